"""kestra-sim (tests/kestra-sim, the stateful simulator of Kestra's API) as a child process for the
SDK tests of flow tools, with the few API calls they make directly (create a flow, read an
execution back) and the flow and selection file they share."""

import json
import os
import socket
import subprocess
import tempfile
import time
import urllib.request

HERE = os.path.dirname(__file__)
SIM_BINARY = os.environ.get("KESTRA_SIM_BIN", os.path.join(HERE, "../../target/debug/kestra-sim"))

NAMESPACE = "company.sdk"

# A flow with typed inputs (one required, the others with defaults) and outputs.
GREET_FLOW = f"""id: greet
namespace: {NAMESPACE}
description: Greets someone, as many times as asked
inputs:
  - id: user
    type: STRING
    description: Who to greet
  - id: count
    type: INT
    defaults: 2
  - id: tags
    type: MULTISELECT
    values: [a, b, c]
    defaults: [a]
tasks:
  - id: hello
    type: io.kestra.plugin.core.debug.Return
    format: "hello {{{{ inputs.user }}}}"
outputs:
  - id: greeting
    type: STRING
    value: "{{{{ outputs.hello.value }}}}"
  - id: times
    type: INT
    value: "{{{{ inputs.count }}}}"
"""

GREET_ARGS = {"user": "Ada", "count": 3, "tags": ["b", "c"]}

# The selection: every flow of the namespace, re-listed every second.
SELECTION = f"kind: flow_tools\nselect:\n  - namespace: {NAMESPACE}\nrefresh: 1\nwait_limit: 30\n"

# Kestra 2.0: a flow carrying a McpToolTrigger (the example of McpToolTrigger.java), in a
# namespace the selection above does not name, and the rule that selects it.
MCP_TRIGGER_RULE = "  - mcp_trigger: true\n"
REPORT_FLOW = """id: report
namespace: company.analytics
inputs:
  - id: period
    type: STRING
    description: Reporting period, e.g. 2025-Q1
tasks:
  - id: generate_report
    type: io.kestra.plugin.core.log.Log
    message: "Generating report for {{ inputs.period }}"
triggers:
  - id: mcp
    type: io.kestra.plugin.core.trigger.McpToolTrigger
    toolName: sales_report
    title: Sales Report Generator
    toolDescription: Generates a sales report for the given period. Safe to call repeatedly with the same arguments.
    annotations:
      readOnly: true
      destructive: false
      idempotent: true
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def selection_dir(extra_rules=""):
    """A temporary tools directory holding only the selection file (plus `extra_rules`)."""
    directory = tempfile.mkdtemp()
    selection = SELECTION.replace("refresh:", extra_rules + "refresh:", 1)
    with open(os.path.join(directory, "flows.yaml"), "w") as f:
        f.write(selection)
    return directory


class KestraSim:
    """`kestra-sim --kestra-version VERSION` on a free loopback port."""

    def __init__(self, version):
        self.version = version
        port = free_port()
        self.proc = subprocess.Popen(
            [os.path.abspath(SIM_BINARY), "--kestra-version", version, "--port", str(port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.url = f"http://127.0.0.1:{port}/api/v1"
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"kestra-sim {version} did not start")

    def _send(self, method, path, body=None, content_type=None):
        headers = {"Content-Type": content_type} if content_type else {}
        data = body.encode() if body is not None else None
        request = urllib.request.Request(f"{self.url}/main{path}", data=data, method=method, headers=headers)
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read() or b"null")

    def create_flow(self, yaml):
        return self._send("POST", "/flows", yaml, "application/x-yaml")

    def execution(self, execution_id):
        return self._send("GET", f"/executions/{execution_id}")

    def executions(self, flow_id):
        page = self._send(
            "GET", f"/executions/search?filters[namespace][EQUALS]={NAMESPACE}&filters[flowId][EQUALS]={flow_id}")
        return page["results"]

    def close(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


def labels(execution):
    return {label["key"]: label["value"] for label in execution["labels"]}


def check_execution(sim, result):
    """The call's structured result and the execution read back from the simulator."""
    state = result["state"]
    assert (state.get("current") if isinstance(state, dict) else state) == "SUCCESS", result
    assert result["outputs"] == {"greeting": "hello Ada", "times": 3}, result
    execution = sim.execution(result["executionId"])
    assert execution["inputs"] == {"user": "Ada", "count": 3, "tags": ["b", "c"]}, execution
    assert execution["outputs"] == {"greeting": "hello Ada", "times": 3}, execution
    found = labels(execution)
    assert found.get("system.from") == "mcp" and found.get("mcp.tool") == "greet", found
