// The official TypeScript MCP SDK over Streamable HTTP against KESTRA_MCP_TOOLSETS=dynamic:
// list, enable a toolset, wait for notifications/tools/list_changed, list again.
// Usage: node ts_dynamic.mjs URL TOKEN  (prints one JSON line with what it saw)
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ToolListChangedNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import { data } from "./result_data.mjs";

const [url, token] = process.argv.slice(2);
const transport = new StreamableHTTPClientTransport(new URL(url), {
  requestInit: { headers: { Authorization: `Bearer ${token}` } },
});
const client = new Client({ name: "ts-sdk-dynamic", version: "1.0.0" });
let notified;
const changed = new Promise((resolve) => { notified = resolve; });
client.setNotificationHandler(ToolListChangedNotificationSchema, () => notified(true));
await client.connect(transport);
const before = await client.listTools();
// No wait for the event stream (GET /mcp) to open: a notification sent before it opens waits
// in the session's common channel.
const enabled = await client.callTool({ name: "enable_toolset", arguments: { toolset: "kv" } });
let timer;
const timeout = new Promise((resolve) => { timer = setTimeout(() => resolve(false), 10000); });
const wasNotified = await Promise.race([changed, timeout]);
clearTimeout(timer);
const after = await client.listTools();
console.log(JSON.stringify({
  before: before.tools.map((t) => t.name).sort(),
  added: data(enabled)?.tools_added ?? null,
  notified: wasNotified,
  after: after.tools.map((t) => t.name).sort(),
}));
await client.close();
