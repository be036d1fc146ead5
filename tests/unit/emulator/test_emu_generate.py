"""Emulator: ``python -m m365emu generate``, its shared multi-tenant app, inventory and credentials file."""

from __future__ import annotations

import json
import shlex
import stat

import jwt
import pytest
import yaml

from m365emu import seeds
from m365emu.__main__ import main
from m365emu.client import EXCHANGE_RESOURCE, EmuClient

OPTIONS = ("--tenants", "--users", "--restricted", "--rng-seed", "--out", "--shared-app", "--inventory", "--inventory-users",
           "--credentials")


def generate(tmp_path, *args: str) -> dict:
    """Run ``generate`` in-process into ``tmp_path``; the seed it wrote."""
    out = tmp_path / "seed.json"
    assert main(["generate", "--out", str(out), *args]) == 0
    return json.loads(out.read_text(encoding="utf-8"))


def read_credentials(path) -> dict[str, str]:
    """The variables of an ``export A=... B=...`` shell file."""
    exports = [line for line in path.read_text(encoding="utf-8").splitlines() if line.startswith("export ")]
    assert len(exports) == 1
    return dict(word.split("=", 1) for word in shlex.split(exports[0])[1:])


def test_help_shows_every_option_with_its_default(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["generate", "--help"])
    assert exit_info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    for option in OPTIONS:
        assert option in text
    for default in ("number of tenants (default: 1)", "users per tenant (default: 100)", "(default: 10)", "(default: 0)",
                    "instead of one app per tenant (default: False)"):
        assert default in text
    # Every option has a help text: the formatter adds "(default: ...)" only to options that have one.
    assert text.count("(default: ") == len(OPTIONS)
    assert "not a real one" in text and "not real ones" in text


def test_default_output_is_generate_seed(tmp_path):
    assert generate(tmp_path, "--tenants", "2", "--users", "12", "--restricted", "4", "--rng-seed", "5") == \
        seeds.generate_seed(2, 12, 4, rng_seed=5)


def test_shared_app_in_every_tenant(tmp_path):
    plain = seeds.generate_seed(3, 10, 2)
    seed = generate(tmp_path, "--tenants", "3", "--users", "10", "--restricted", "2", "--shared-app")
    apps = [tenant["apps"] for tenant in seed["tenants"]]
    assert all(len(entry) == 1 for entry in apps)
    assert all(entry == apps[0] for entry in apps)
    assert apps[0][0] == seeds.generated_shared_app(0)
    assert len({entry[0]["client_id"] for entry in apps}) == 1 and len(apps[0][0]["secrets"]) == 1
    assert apps[0][0]["client_id"] not in {tenant["apps"][0]["client_id"] for tenant in plain["tenants"]}
    # Only the apps differ from the seed without --shared-app.
    for shared, own in zip(seed["tenants"], plain["tenants"]):
        assert {k: v for k, v in shared.items() if k != "apps"} == {k: v for k, v in own.items() if k != "apps"}
    assert seeds.generated_shared_app(1)["client_id"] != apps[0][0]["client_id"]


def test_restricted_users_are_plain_cases(tmp_path):
    seed = generate(tmp_path, "--tenants", "2", "--users", "30", "--restricted", "5", "--shared-app")
    for tenant in seed["tenants"]:
        users = {user["mail"]: user for user in tenant["users"]}
        assert len(tenant["restricted"]) == 5
        for entry in tenant["restricted"]:
            user = users[entry["SenderAddress"]]
            assert user["onPremisesSyncEnabled"] is None and user["adminRoles"] == [] and user["accountEnabled"] is True
            assert entry["unblock_count"] == 0


def test_inventory_and_credentials_of_the_shared_app(tmp_path):
    inventory, credentials = tmp_path / "inventory.yml", tmp_path / "credentials.sh"
    seed = generate(tmp_path, "--tenants", "3", "--users", "5", "--restricted", "1", "--shared-app",
                    "--inventory", str(inventory), "--credentials", str(credentials))
    hosts = yaml.safe_load(inventory.read_text(encoding="utf-8"))["m365_tenants"]["hosts"]
    assert list(hosts) == ["tenant0", "tenant1", "tenant2"]
    assert hosts == {f"tenant{i}": {"m365_tenant_id": tenant["id"]} for i, tenant in enumerate(seed["tenants"])}
    app = seed["tenants"][0]["apps"][0]
    assert read_credentials(credentials) == {"AZURE_CLIENT_ID": app["client_id"], "AZURE_CLIENT_SECRET": app["secrets"][0]}
    assert "not a real" in inventory.read_text(encoding="utf-8") and "not a real" in credentials.read_text(encoding="utf-8")
    for path in (inventory, credentials):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_inventory_with_an_app_per_tenant(tmp_path):
    inventory = tmp_path / "inventory.yml"
    seed = generate(tmp_path, "--tenants", "2", "--users", "5", "--restricted", "1", "--inventory", str(inventory))
    hosts = yaml.safe_load(inventory.read_text(encoding="utf-8"))["m365_tenants"]["hosts"]
    assert hosts == {
        f"tenant{i}": {"m365_tenant_id": tenant["id"], "m365_client_id": tenant["apps"][0]["client_id"],
                       "m365_client_secret": tenant["apps"][0]["secrets"][0]}
        for i, tenant in enumerate(seed["tenants"])
    }
    assert len({host["m365_client_id"] for host in hosts.values()}) == 2


def test_inventory_users_name_each_tenant_restricted_accounts(tmp_path):
    inventory = tmp_path / "inventory.yml"
    seed = generate(tmp_path, "--tenants", "2", "--users", "6", "--restricted", "2", "--shared-app", "--inventory", str(inventory),
                    "--inventory-users")
    hosts = yaml.safe_load(inventory.read_text(encoding="utf-8"))["m365_tenants"]["hosts"]
    assert hosts == {f"tenant{i}": {"m365_tenant_id": tenant["id"], "unblock_email_users": [r["SenderAddress"] for r in tenant["restricted"]]}
                     for i, tenant in enumerate(seed["tenants"])}
    with pytest.raises(SystemExit):
        main(["generate", "--out", str(tmp_path / "other.json"), "--inventory-users"])


def test_credentials_need_the_shared_app(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["generate", "--out", str(tmp_path / "seed.json"), "--credentials", str(tmp_path / "credentials.sh")])
    assert exit_info.value.code == 2
    assert "--credentials needs --shared-app" in capsys.readouterr().err
    assert not (tmp_path / "credentials.sh").exists()


def test_shared_app_gets_a_token_in_every_tenant(emulator, tmp_path):
    credentials = tmp_path / "credentials.sh"
    seed = generate(tmp_path, "--tenants", "3", "--users", "5", "--restricted", "2", "--shared-app", "--credentials", str(credentials))
    env = read_credentials(credentials)
    emulator.reset(seed)
    client = EmuClient(emulator.base_url, emulator.ca_path)
    for tenant in seed["tenants"]:
        for ref in (tenant["id"], tenant["domains"][0]):
            resp = client.token_response(ref, env["AZURE_CLIENT_ID"], env["AZURE_CLIENT_SECRET"])
            assert resp.status_code == 200, resp.text
            claims = jwt.decode(resp.json()["access_token"], options={"verify_signature": False})
            assert claims["tid"] == tenant["id"] and claims["appid"] == env["AZURE_CLIENT_ID"]
        exchange = client.token(tenant["id"], env["AZURE_CLIENT_ID"], env["AZURE_CLIENT_SECRET"], EXCHANGE_RESOURCE)
        assert jwt.decode(exchange, options={"verify_signature": False})["roles"] == ["Exchange.ManageAsApp"]
        # A Graph token of the shared app sees that tenant's users, and only those.
        graph = client.token(tenant["id"], env["AZURE_CLIENT_ID"], env["AZURE_CLIENT_SECRET"])
        users = client.graph("GET", "/users?$top=999", graph)
        assert users.status_code == 200
        assert {u["userPrincipalName"].split("@")[1] for u in users.json()["value"]} == {tenant["domains"][0]}


def test_an_app_per_tenant_is_refused_elsewhere(emulator, tmp_path):
    seed = generate(tmp_path, "--tenants", "2", "--users", "5", "--restricted", "1")
    emulator.reset(seed)
    client = EmuClient(emulator.base_url, emulator.ca_path)
    first, second = seed["tenants"]
    app = first["apps"][0]
    assert client.token_response(first["id"], app["client_id"], app["secrets"][0]).status_code == 200
    resp = client.token_response(second["id"], app["client_id"], app["secrets"][0])
    assert resp.status_code == 400 and resp.json()["error_codes"] == [700016]
