// The official TypeScript MCP SDK with flows as tools (issue 17), over Streamable HTTP or stdio:
// list the tools, create a flow in the simulator while connected, wait for
// notifications/tools/list_changed, list again, call the flow's tool with an invalid argument
// and with typed ones.
// Usage: node ts_flow_tools.mjs http URL TOKEN SIM_URL FLOW_FILE
//        node ts_flow_tools.mjs stdio BINARY SIM_URL FLOW_FILE
//          (stdio: the server gets this process's environment; prints one JSON line)
import { readFileSync } from "node:fs";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { ToolListChangedNotificationSchema } from "@modelcontextprotocol/sdk/types.js";

const [mode, ...rest] = process.argv.slice(2);
let transport, simUrl, flowFile;
if (mode === "http") {
  const [url, token] = rest;
  [simUrl, flowFile] = rest.slice(2);
  transport = new StreamableHTTPClientTransport(new URL(url), {
    requestInit: { headers: { Authorization: `Bearer ${token}` } },
  });
} else {
  const [binary] = rest;
  [simUrl, flowFile] = rest.slice(1);
  transport = new StdioClientTransport({ command: binary, args: [], env: process.env });
}
const client = new Client({ name: "ts-sdk-flow-tools", version: "1.0.0" });
let notified;
const changed = new Promise((resolve) => { notified = resolve; });
client.setNotificationHandler(ToolListChangedNotificationSchema, () => notified(true));
await client.connect(transport);
const before = await client.listTools();

const created = await fetch(`${simUrl}/main/flows`, {
  method: "POST",
  headers: { "Content-Type": "application/x-yaml" },
  body: readFileSync(flowFile, "utf8"),
});
let timer;
const timeout = new Promise((resolve) => { timer = setTimeout(() => resolve(false), 15000); });
const wasNotified = await Promise.race([changed, timeout]);
clearTimeout(timer);
const after = await client.listTools();
const tool = after.tools.find((t) => t.name === "greet") ?? null;
const refused = tool
  ? await client.callTool({ name: "greet", arguments: { user: "Ada", count: "three" } })
  : null;
const called = tool
  ? await client.callTool({ name: "greet", arguments: { user: "Ada", count: 3, tags: ["b", "c"] } })
  : null;
console.log(JSON.stringify({
  created: created.status,
  notified: wasNotified,
  before: before.tools.map((t) => t.name),
  after: after.tools.map((t) => t.name),
  schema: tool?.inputSchema ?? null,
  refused: refused ? (refused.isError ?? false) : null,
  result: called?.structuredContent ?? null,
  calledIsError: called ? (called.isError ?? false) : null,
  text: called?.content?.[0]?.text ?? null,
}));
await client.close();
