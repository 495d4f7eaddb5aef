"""`demo`, `check` and `run` talk to the configured Plex and CDF only (no pypi.org, nothing else).

They run in a child process with an audit hook that sees every `socket.connect` and `socket.getaddrinfo` (and
refuses any host but loopback); the cognite-sdk's version check is left at its default there, so only the
library and the CLI can be what turns it off.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

SCRIPT = textwrap.dedent(
    """
    import json, sys

    targets = []

    def audit(event, args):
        if event == "socket.connect":
            address = args[1]
            if isinstance(address, tuple):
                targets.append(["connect", str(address[0]), int(address[1])])
                if address[0] not in ("127.0.0.1", "::1"):
                    raise ConnectionRefusedError(f"socket guard: connect to {address!r}")
        elif event == "socket.getaddrinfo":
            targets.append(["getaddrinfo", str(args[0]), args[1]])
            if args[0] not in ("127.0.0.1", "localhost", "::1", None):
                raise OSError(f"socket guard: getaddrinfo {args[0]!r}")

    sys.addaudithook(audit)

    import yaml
    from cognite.client import global_config
    from plex_cognite.cli import main
    from plex_cognite.testing.fake_cdf import FakeCDF
    from plex_cognite.testing.fake_plex import FakePlex
    from plex_cognite.testing.plant import SimulatedPlant
    from tests.cli._configs import TINY, config_for, write
    from pathlib import Path

    assert global_config.disable_pypi_version_check is False
    workdir = Path(sys.argv[1])
    codes = {"demo": main(["demo"])}
    after_demo = len(targets)
    plant = SimulatedPlant(seed=5, size=TINY)
    with FakePlex(plant) as plex, FakeCDF() as cdf:
        config = write(workdir / "c.yaml", config_for(plex.base_url, cdf, plant, workdir))
        codes["check"] = main(["check", "--config", str(config)])
        codes["run"] = main(["run", "--config", str(config), "--once"])
        ports = [plex.port, plex.datasource_port, cdf.port]
    print("RESULT " + json.dumps({"codes": codes, "targets": targets, "ports": ports, "after_demo": after_demo}))
    """
)


def test_demo_check_and_run_connect_to_nothing_but_the_fakes(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path)], capture_output=True, text=True, timeout=240, cwd=root
    )
    result_lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert result_lines, done.stderr[-3000:]
    result = json.loads(result_lines[-1].removeprefix("RESULT "))

    assert result["codes"] == {"demo": 0, "check": 0, "run": 0}
    hosts = {host for _, host, _ in result["targets"]}
    assert hosts <= {"127.0.0.1"}, hosts
    connects = [t for t in result["targets"] if t[0] == "connect"]
    assert connects, "the guard saw no connection at all"
    # The demo's fakes have their own ports; check and run connect to the configured fakes' ports only.
    assert {port for kind, _, port in result["targets"][result["after_demo"] :] if kind == "connect"} <= set(
        result["ports"]
    )
    demo_output = done.stdout.split("RESULT ")[0]
    assert "verification: every event is linked" in demo_output
