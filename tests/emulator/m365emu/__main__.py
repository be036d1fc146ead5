"""Command line: ``python -m m365emu serve|generate``."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from .app import load_seed
from .seeds import demo_seed, generate_seed, generated_credentials, generated_inventory, generated_shared_app, test_seed, with_shared_app
from .server import serve

NAMED_SEEDS = {"test": test_seed, "demo": demo_seed}


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path``, readable by its owner only (it may hold the emulator's app secrets)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(path, 0o600)


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(prog="m365emu", description="HTTPS emulator of the Microsoft 365 endpoints the collection uses.")
    sub = parser.add_subparsers(dest="command", required=True)
    p_serve = sub.add_parser("serve", help="run the emulator")
    p_serve.add_argument("--seed", required=True, help="seed JSON file, or the name of a built-in seed: test, demo")
    p_serve.add_argument("--info-file", type=Path, help="write {base_url, ca_path, pid} here once listening")
    p_serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    p_serve.add_argument("--port", type=int, default=0, help="port to listen on (default: 0, any free port)")
    p_serve.add_argument("--state-dir", type=Path, help="where the CA and server certificate go (default: a new temp dir)")
    p_serve.add_argument("--verbose", action="store_true", help="log every request to stderr")
    p_gen = sub.add_parser(
        "generate", help="write a large seed, and optionally an Ansible inventory of its tenants",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Write a generated seed: tenant{i}.example tenants of user{j}@tenant{i}.example users, some on the "
                    "Restricted Users list (plain cases: not synced from on-premises, no admin role). Every id and secret "
                    "it writes (seed, inventory, credentials) is the emulator's, not a real one.")
    p_gen.add_argument("--tenants", type=int, metavar="N", default=1, help="number of tenants")
    p_gen.add_argument("--users", type=int, metavar="N", default=100, help="users per tenant")
    p_gen.add_argument("--restricted", type=int, metavar="N", default=10, help="restricted users per tenant (at most --users)")
    p_gen.add_argument("--rng-seed", type=int, metavar="N", default=0, help="random seed: the same value gives the same ids and secrets")
    p_gen.add_argument("--out", type=Path, metavar="PATH", required=True, help="the seed JSON file to write (serve --seed takes it)")
    p_gen.add_argument("--shared-app", action="store_true",
                       help="one multi-tenant app (one client id, one secret) consented in every tenant, as a managed "
                            "service provider's AWX credential uses, instead of one app per tenant")
    p_gen.add_argument("--inventory", type=Path, metavar="PATH",
                       help="also write an Ansible YAML inventory: group m365_tenants, one host per tenant (tenant0, ...) "
                            "with m365_tenant_id, plus m365_client_id and m365_client_secret unless --shared-app "
                            "(emulator secrets, not real ones)")
    p_gen.add_argument("--inventory-users", action="store_true",
                       help="with --inventory: give each host the accounts on its tenant's Restricted Users list as "
                            "unblock_email_users, as a helpdesk ticket names them")
    p_gen.add_argument("--credentials", type=Path, metavar="PATH",
                       help="with --shared-app: also write a shell file of 'export AZURE_CLIENT_ID=... AZURE_CLIENT_SECRET=...' "
                            "for the shared app, what an AWX credential injects (emulator secrets, not real ones)")
    args = parser.parse_args(argv)

    if args.command == "generate":
        if args.inventory_users and args.inventory is None:
            p_gen.error("--inventory-users needs --inventory")
        if args.credentials is not None and not args.shared_app:
            p_gen.error("--credentials needs --shared-app (without it every tenant has an app of its own)")
        seed = generate_seed(args.tenants, args.users, args.restricted, rng_seed=args.rng_seed)
        if args.shared_app:
            seed = with_shared_app(seed, rng_seed=args.rng_seed)
        args.out.write_text(json.dumps(seed), encoding="utf-8")
        if args.inventory is not None:
            _write_private(args.inventory, generated_inventory(seed, shared_app=args.shared_app, users=args.inventory_users))
        if args.credentials is not None:
            _write_private(args.credentials, generated_credentials(generated_shared_app(args.rng_seed)))
        return 0
    if args.seed in NAMED_SEEDS:
        seed = NAMED_SEEDS[args.seed]()
    else:
        seed = load_seed(Path(args.seed).read_text(encoding="utf-8"))
    state_dir = args.state_dir or Path(tempfile.mkdtemp(prefix="m365emu-"))
    return serve(seed, host=args.host, port=args.port, state_dir=state_dir, info_file=args.info_file, verbose=args.verbose)


if __name__ == "__main__":
    sys.exit(main())
