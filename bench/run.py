"""Benchmark: the collection's unblock playbook (B) against plain uri tasks (A) and the services' floor.

Run with ``scripts/bench.sh`` (or ``.venv/bin/python bench/run.py``); ``--help`` lists the options. Every
scenario runs against a fresh emulator seeded by its generator, with emulated latency on every request.
Prints a table, writes ``bench/results/latest.json`` and ``bench/results/curve.png``, and rewrites the
results section of ``bench/README.md``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / 'tests' / 'emulator'))

from m365emu import seeds  # noqa: E402  pylint: disable=wrong-import-position
from m365emu.testing import EmulatorProcess  # noqa: E402  pylint: disable=wrong-import-position

RESULTS = ROOT / 'bench' / 'results'
BIN = Path(sys.executable).parent
TOKEN_ROUNDS = 2          # msal: openid-configuration, then the token (both resources in parallel)
GRAPH_BATCH = 20
PAGE_SIZE = 1000


@dataclass
class Scenario:
    """One benchmark case."""

    name: str
    tenants: int
    users: int
    baseline: bool


@dataclass
class Measure:
    """What one run of one playbook cost."""

    wall_s: float
    requests: int
    throttled: int
    controller_rss_mb: float
    tree_pss_mb: float
    rc: int
    correct: bool
    detail: str = ''
    log_tail: str = ''
    # CPU seconds (user + system): ansible-playbook with its forks, and the emulator. Less swayed than the wall
    # time by a host whose speed changes from run to run, and the way to tell what a change cost.
    playbook_cpu_s: float = 0.0
    emulator_cpu_s: float = 0.0


@dataclass
class Row:
    """A scenario's figures."""

    scenario: str
    tenants: int
    users_per_tenant: int
    floor_s: float
    collection: Measure
    baseline: Measure | None = None
    # The collection doing only what the baseline does (no mailbox clean-up steps).
    same_steps: Measure | None = None
    ratios: dict = field(default_factory=dict)


def floor_seconds(users: int, latency_s: float, concurrency: int, budget: int) -> float:
    """The least time the services allow one tenant (tenants run in parallel, each with its own limits).

    Sequential round trips: the token; the Restricted Users list (pages of 1,000); one round of Graph
    lookups, one of password resets (sessions revoked in the same round: they do not depend on each other),
    Graph batches of 20 all in flight at once; then the removals, at most ``concurrency`` at once per
    tenant. The Exchange budget allows ``budget`` cmdlets per rolling 10 s: the last cmdlet cannot start
    before ``floor((cmdlets - 1) / budget) * 10`` seconds.
    """
    pages = max(1, math.ceil(users / PAGE_SIZE))
    rounds = TOKEN_ROUNDS + pages + 1 + 1 + math.ceil(users / max(1, concurrency))
    cmdlets = pages + users
    budget_wait = ((cmdlets - 1) // budget) * 10.0 if budget > 0 else 0.0
    return max(rounds * latency_s, budget_wait + latency_s)


class PeakMemory(threading.Thread):
    """Samples the proportional set size (PSS: shared pages counted once) of a process tree."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.interval = interval
        self.peak_kb = 0
        self.main_peak_kb = 0
        self.done = threading.Event()

    @staticmethod
    def _children(pid: int) -> list[int]:
        out = []
        try:
            for task in os.listdir(f'/proc/{pid}/task'):
                with open(f'/proc/{pid}/task/{task}/children', encoding='ascii') as handle:
                    out += [int(c) for c in handle.read().split()]
        except OSError:
            pass
        return out

    @staticmethod
    def _kb(pid: int, name: str, field: str) -> int:
        """A figure in kB from /proc/<pid>/<name> (``field:`` lines); 0 once the process is gone."""
        try:
            with open(f'/proc/{pid}/{name}', encoding='ascii') as handle:
                for line in handle:
                    if line.startswith(field):
                        return int(line.split()[1])
        except OSError:
            pass
        return 0

    def run(self) -> None:
        while not self.done.is_set():
            tree, todo = [], [self.pid]
            while todo:
                pid = todo.pop()
                tree.append(pid)
                todo += self._children(pid)
            self.peak_kb = max(self.peak_kb, sum(self._kb(p, 'smaps_rollup', 'Pss:') for p in tree))
            self.main_peak_kb = max(self.main_peak_kb, self._kb(self.pid, 'status', 'VmRSS:'))
            self.done.wait(self.interval)


def inventory(seed: dict, path: Path) -> None:
    """One host per tenant, with its app's credentials and the addresses to remediate (for the baseline)."""
    hosts = {}
    for i, tenant in enumerate(seed['tenants']):
        app = tenant['apps'][0]
        hosts[f'tenant{i}'] = {
            'm365_tenant_id': tenant['id'],
            'm365_client_id': app['client_id'],
            'm365_client_secret': app['secrets'][0],
            'bench_users': [r['SenderAddress'] for r in tenant['restricted']],
        }
    path.write_text(json.dumps({'m365_tenants': {'hosts': hosts}}))


def run_playbook(playbook: Path, emulator: EmulatorProcess, inv: Path, forks: int, workdir: Path,
                 extra: tuple[str, ...] = ()) -> tuple[float, float, int, PeakMemory, str]:
    """Run one playbook; wall seconds, CPU seconds of its process tree, return code, the memory sampler, output tail."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(('ANSIBLE_', 'AZURE_'))}
    # BENCH_ANSIBLE_X=v is passed on as ANSIBLE_X=v (a callback that times the tasks, say); the rest of the
    # caller's Ansible settings are left out.
    env.update({k[len('BENCH_'):]: v for k, v in os.environ.items() if k.startswith('BENCH_ANSIBLE_')})
    env.update(emulator.env())
    env.update(ANSIBLE_COLLECTIONS_PATH=str(ROOT / '.tmp' / 'collections'), ANSIBLE_HOST_KEY_CHECKING='false',
               ANSIBLE_LOCALHOST_WARNING='false', ANSIBLE_HOME=str(workdir / 'ansible-home'), ANSIBLE_NOCOLOR='1')
    command = [str(BIN / 'ansible-playbook'), str(playbook), '-i', str(inv), '--forks', str(forks),
               '-e', f'unblock_email_report_dir={workdir / "reports"}', '-e', f'unblock_email_password_dir={workdir / "passwords"}',
               '-e', 'unblock_email_all=true', *extra]
    log = workdir / f'{playbook.stem}.log'
    start = time.perf_counter()
    with open(log, 'w', encoding='utf-8') as out:
        proc = subprocess.Popen(command, env=env, cwd=str(workdir), stdout=out, stderr=subprocess.STDOUT)  # pylint: disable=consider-using-with
        memory = PeakMemory(proc.pid)
        memory.start()
        # wait4 counts the CPU of the whole tree that ansible-playbook waited for (its forks and their modules).
        dummy, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = rc = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    cpu = usage.ru_utime + usage.ru_stime
    memory.done.set()
    memory.join()
    return wall, cpu, rc, memory, log.read_text(encoding='utf-8')[-3000:]


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) one running process has used so far, from /proc/<pid>/stat."""
    with open(f'/proc/{pid}/stat', encoding='ascii') as handle:
        fields = handle.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


def remediated(emulator: EmulatorProcess, seed: dict) -> tuple[bool, str]:
    """Every restricted account is off the list and its password was reset after the block."""
    problems = []
    for tenant in seed['tenants']:
        state = emulator.state(tenant['id'])
        if state['restricted']:
            problems.append(f"{tenant['domains'][0]}: {len(state['restricted'])} still restricted")
        blocked = {r['SenderAddress'].lower() for r in tenant['restricted']}
        stale = [u for u in state['users'] if u['userPrincipalName'].lower() in blocked and u['lastPasswordChangeDateTime'] <= seeds.OLD_CHANGE]
        if stale:
            problems.append(f"{tenant['domains'][0]}: {len(stale)} passwords not reset")
    return not problems, '; '.join(problems)


def measure(playbook: Path, emulator: EmulatorProcess, seed: dict, forks: int, workdir: Path, extra: tuple[str, ...] = ()) -> Measure:
    """Reset the emulator to the seed, run the playbook, count what it cost and check it did the work."""
    emulator.reset(seed)
    emulator.set_faults([LATENCY])
    before, emulator_before = emulator.stats(), process_cpu(emulator.pid)
    wall, cpu, rc, memory, tail = run_playbook(playbook, emulator, workdir / 'inventory.json', forks, workdir, extra)
    after, emulator_cpu = emulator.stats(), process_cpu(emulator.pid) - emulator_before
    correct, detail = remediated(emulator, seed)
    # Every answer that asked to slow down: 429s (requests and $batch items) and Exchange's plain-text refusals
    # that came with another status.
    throttled = sum(after.get(k, 0) - before.get(k, 0) for k in ('throttled_429', 'batch_items_429', 'refusals_not_429'))
    return Measure(wall_s=round(wall, 2), requests=after['requests'] - before['requests'], throttled=throttled,
                   controller_rss_mb=round(memory.main_peak_kb / 1024, 1), tree_pss_mb=round(memory.peak_kb / 1024, 1),
                   rc=rc, correct=correct and rc == 0, detail=detail, log_tail='' if rc == 0 else tail,
                   playbook_cpu_s=round(cpu, 1), emulator_cpu_s=round(emulator_cpu, 1))


LATENCY: dict = {}
# B': the collection doing exactly the baseline's steps (reset, revoke, unblock), without the mailbox
# clean-up (forwarding, inbox rules) that its defaults add.
SAME_STEPS = ('-e', 'unblock_email_clear_forwarding=false', '-e', 'unblock_email_inbox_rules=keep')


def run_scenario(scenario: Scenario, args: argparse.Namespace) -> Row:
    """Both playbooks (or only the collection's) on one generated seed."""
    seed = seeds.generate_seed(scenario.tenants, scenario.users, scenario.users, rng_seed=7)
    exchange = seed.setdefault('exchange', {})
    concurrency = exchange.setdefault('concurrency_per_tenant', 8)
    budget = exchange.setdefault('budget_per_10s', 400)
    with tempfile.TemporaryDirectory(prefix=f'bench-{scenario.name}-') as tmp:
        workdir = Path(tmp)
        inventory(seed, workdir / 'inventory.json')
        with EmulatorProcess(seed, workdir=workdir / 'emulator') as emulator:
            collection = measure(ROOT / 'playbooks' / 'unblock_email.yml', emulator, seed, scenario.tenants, workdir)
            baseline = same_steps = None
            if scenario.baseline and not args.no_baseline:
                same_steps = measure(ROOT / 'playbooks' / 'unblock_email.yml', emulator, seed, scenario.tenants, workdir, SAME_STEPS)
                baseline = measure(ROOT / 'bench' / 'baseline.yml', emulator, seed, scenario.tenants, workdir)
    floor = round(floor_seconds(scenario.users, args.latency_ms / 1000, concurrency, budget), 2)
    row = Row(scenario.name, scenario.tenants, scenario.users, floor, collection, baseline, same_steps)
    row.ratios['B/floor'] = round(collection.wall_s / floor, 2)
    if baseline:
        row.ratios['A/B'] = round(baseline.wall_s / collection.wall_s, 1)
        row.ratios["A/B'"] = round(baseline.wall_s / same_steps.wall_s, 1)
    return row


def table(rows: list[Row]) -> str:
    """The results as a Markdown table."""
    lines = ['| scenario | tenants × users | run | wall s | requests | throttled | CPU s playbook / emulator | controller RSS MB '
             '| all processes PSS MB | correct | A/B '
             '| B/floor (floor s) |',
             '|---|---|---|---|---|---|---|---|---|---|---|---|']
    for row in rows:
        runs = [('B collection', row.collection)]
        if row.baseline:
            runs += [("B' collection, A's steps only", row.same_steps), ('A uri baseline', row.baseline)]
        for label, m in runs:
            ratio = {'B collection': row.ratios.get('A/B', ''), "B' collection, A's steps only": row.ratios.get("A/B'", '')}.get(label, '')
            floor = f"{row.ratios['B/floor']} ({row.floor_s})" if label == 'B collection' else ''
            lines.append(f'| {row.scenario} | {row.tenants} × {row.users_per_tenant} | {label} | {m.wall_s} | {m.requests} | '
                         f'{m.throttled} | {m.playbook_cpu_s} / {m.emulator_cpu_s} | {m.controller_rss_mb} | {m.tree_pss_mb} | '
                         f'{"yes" if m.correct else "NO " + m.detail[:80]} | {ratio} | {floor} |')
    return '\n'.join(lines)


def plot(rows: list[Row], path: Path) -> None:
    """Wall time against users for the one-tenant curve, with the floor."""
    import matplotlib  # pylint: disable=import-outside-toplevel
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel

    curve = [r for r in rows if r.scenario.startswith('curve')]
    if not curve:
        return
    users = [r.users_per_tenant for r in curve]
    fig, axis = plt.subplots(figsize=(6, 4))
    axis.plot(users, [r.collection.wall_s for r in curve], 'o-', label='collection (B)')
    axis.plot(users, [r.floor_s for r in curve], 's--', label='floor')
    axis.set_xscale('log')
    axis.set_yscale('log')
    axis.set_xlabel('restricted users in one tenant')
    axis.set_ylabel('wall time (s)')
    axis.set_title('unblock_email: cost against users (50 ms latency)')
    axis.grid(True, which='both', alpha=.3)
    axis.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def update_readme(rows: list[Row], args: argparse.Namespace, started: str, compared: str = '') -> None:
    """Replace the results section of bench/README.md with this run's figures."""
    readme = ROOT / 'bench' / 'README.md'
    text = readme.read_text(encoding='utf-8')
    begin, end = '<!-- results:begin -->', '<!-- results:end -->'
    against = (f'Against {args.against}, measured in turn in the same run (B only; with {args.rounds} rounds, the A/B above is '
               f'A over the median of B):\n\n{compared}\n\n') if compared else ''
    body = (f'{begin}\nRun of {started} (`{" ".join(["scripts/bench.sh"] + args.argv)}`), latency {args.latency_ms} ± '
            f'{args.jitter_ms} ms on every request, forks = tenants, on this machine ({os.cpu_count()} cores).\n\n'
            f'{table(rows)}\n\n{against}![curve](results/curve.png)\n{end}')
    if begin in text:
        text = text[:text.index(begin)] + body + text[text.index(end) + len(end):]
    else:
        text += '\n' + body + '\n'
    readme.write_text(text, encoding='utf-8')


def reference_tree(revision: str, into: Path) -> Path:
    """The repository at git ``revision``, unpacked into ``into``, with the collections path its benchmark uses."""
    tree = into / 'reference'
    tree.mkdir()
    archive = subprocess.run(['git', '-C', str(ROOT), 'archive', '--format=tar', revision], check=True, capture_output=True).stdout
    subprocess.run(['tar', '-x', '-C', str(tree)], input=archive, check=True)
    namespace = tree / '.tmp' / 'collections' / 'ansible_collections' / 'm365ops'
    namespace.mkdir(parents=True)
    (namespace / 'remediation').symlink_to(tree)
    return tree


def measure_reference(tree: Path, name: str, args: argparse.Namespace) -> dict[str, dict]:
    """The reference's own benchmark of scenario ``name`` (its playbook, its emulator, this Python), the collection
    only: each sub-scenario's measure of B, as its results file gives it."""
    command = [sys.executable, str(tree / 'bench' / 'run.py'), name, '--no-baseline', '--no-readme',
               '--latency-ms', str(args.latency_ms), '--jitter-ms', str(args.jitter_ms)]
    subprocess.run(command, cwd=str(tree), check=False, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    results = tree / 'bench' / 'results' / 'latest.json'
    if not results.exists():
        return {}
    rows = json.loads(results.read_text(encoding='utf-8'))['rows']
    results.unlink()
    return {row['scenario']: row['collection'] for row in rows}


def comparison(pairs: dict[str, list[tuple[float, float]]], revision: str) -> str:
    """Each scenario's wall seconds here and at ``revision``, round by round (measured in turn), and the ratio of
    their medians: below 1 is faster here."""
    lines = [f'| scenario | this tree, wall s | {revision}, wall s | this / {revision} (medians) |', '|---|---|---|---|']
    for name, runs in pairs.items():
        here = [h for h, dummy in runs]
        there = [r for dummy, r in runs if r]
        ratio = round(statistics.median(here) / statistics.median(there), 2) if there else ''
        lines.append(f'| {name} | {" ".join(str(h) for h in here)} | {" ".join(str(r) for r in there) or "failed"} | {ratio} |')
    return '\n'.join(lines)


SCENARIOS = {
    'standard': [Scenario('standard', 5, 40, True)],
    'large': [Scenario('large', 10, 1000, False)],
    'curve': [Scenario(f'curve-{n}', 1, n, False) for n in (10, 100, 1000, 5000)],
}


def main(argv: list[str]) -> int:
    """Run the chosen scenarios and report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('scenarios', nargs='*', help='of %s; default: all of them' % ', '.join(SCENARIOS))
    parser.add_argument('--latency-ms', type=int, default=50)
    parser.add_argument('--jitter-ms', type=int, default=10)
    parser.add_argument('--no-baseline', action='store_true', help='skip the uri baseline (A)')
    parser.add_argument('--no-readme', action='store_true', help='do not rewrite bench/README.md')
    parser.add_argument('--against', metavar='REVISION',
                        help='also run the benchmark of the collection at this git revision (B only), in turn with this '
                             "tree's, and compare their wall times: the way to tell a change from a faster or slower host")
    parser.add_argument('--rounds', type=int, default=1, help='with --against: how many times each is measured, in turn')
    args = parser.parse_args(argv)
    args.scenarios = args.scenarios or list(SCENARIOS)
    unknown = set(args.scenarios) - set(SCENARIOS)
    if unknown:
        parser.error('unknown scenario(s): %s' % ', '.join(sorted(unknown)))
    args.argv = argv
    LATENCY.update(service='*', tenant='*', latency_ms=args.latency_ms, jitter_ms=args.jitter_ms)
    started = time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())
    rows: list[Row] = []
    pairs: dict[str, list[tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory(prefix='bench-reference-') as tmp:
        tree = reference_tree(args.against, Path(tmp)) if args.against else None
        for name in args.scenarios:
            for turn in range(max(1, args.rounds) if tree else 1):
                reference = measure_reference(tree, name, args) if tree else {}
                for scenario in SCENARIOS[name]:
                    # The uri baseline once: the rounds compare the collection only.
                    row = run_scenario(scenario, argparse.Namespace(**dict(vars(args), no_baseline=args.no_baseline or turn > 0)))
                    if tree:
                        pairs.setdefault(scenario.name, []).append((row.collection.wall_s, reference.get(scenario.name, {}).get('wall_s', 0)))
                    if turn:
                        continue
                    rows.append(row)
                    print(table([row]).splitlines()[-1] if not row.baseline else '\n'.join(table([row]).splitlines()[2:]), flush=True)
    for row in rows:
        # B is a run of seconds and A of minutes: with several rounds, A/B is taken over B's median.
        walls = [here for here, dummy in pairs.get(row.scenario, ())]
        if row.baseline and len(walls) > 1:
            row.ratios['A/B, first round'] = row.ratios['A/B']
            row.ratios['A/B'] = round(row.baseline.wall_s / statistics.median(walls), 1)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / 'latest.json').write_text(json.dumps({'started': started, 'latency_ms': args.latency_ms, 'jitter_ms': args.jitter_ms,
                                                     'rows': [asdict(r) for r in rows], 'against': args.against,
                                                     'pairs': pairs}, indent=2))
    plot(rows, RESULTS / 'curve.png')
    print(table(rows))
    compared = comparison(pairs, args.against) if pairs else ''
    if compared:
        print(compared)
    if not args.no_readme:
        update_readme(rows, args, started, compared)
    return 0 if all(r.collection.correct for r in rows) else 1


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
