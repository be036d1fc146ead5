"""Command line: ``python -m m365emu serve|generate``."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from .app import load_seed
from .seeds import demo_seed, generate_seed, test_seed
from .server import serve

NAMED_SEEDS = {"test": test_seed, "demo": demo_seed}


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(prog="m365emu", description="HTTPS emulator of the Microsoft 365 endpoints the collection uses.")
    sub = parser.add_subparsers(dest="command", required=True)
    p_serve = sub.add_parser("serve", help="run the emulator")
    p_serve.add_argument("--seed", required=True, help="seed JSON file, or the name of a built-in seed: test, demo")
    p_serve.add_argument("--info-file", type=Path, help="write {base_url, ca_path, pid} here once listening")
    p_serve.add_argument("--host", default="127.0.0.1")
    p_serve.add_argument("--port", type=int, default=0)
    p_serve.add_argument("--state-dir", type=Path, help="where the CA and server certificate go (default: a new temp dir)")
    p_serve.add_argument("--verbose", action="store_true", help="log every request to stderr")
    p_gen = sub.add_parser("generate", help="write a large seed")
    p_gen.add_argument("--tenants", type=int, default=1)
    p_gen.add_argument("--users", type=int, default=100, help="users per tenant")
    p_gen.add_argument("--restricted", type=int, default=10, help="restricted users per tenant")
    p_gen.add_argument("--rng-seed", type=int, default=0)
    p_gen.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)

    if args.command == "generate":
        seed = generate_seed(args.tenants, args.users, args.restricted, rng_seed=args.rng_seed)
        args.out.write_text(json.dumps(seed), encoding="utf-8")
        return 0
    if args.seed in NAMED_SEEDS:
        seed = NAMED_SEEDS[args.seed]()
    else:
        seed = load_seed(Path(args.seed).read_text(encoding="utf-8"))
    state_dir = args.state_dir or Path(tempfile.mkdtemp(prefix="m365emu-"))
    return serve(seed, host=args.host, port=args.port, state_dir=state_dir, info_file=args.info_file, verbose=args.verbose)


if __name__ == "__main__":
    sys.exit(main())
