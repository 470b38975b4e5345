// The official TypeScript MCP SDK over Streamable HTTP: `execute_flow` with `wait` on a flow that
// runs longer than the client's request timeout, kept alive by progress notifications
// (`resetTimeoutOnProgress`), counted and checked to increase; then a waiting call cancelled
// with an AbortSignal after its first progress notification.
// Usage: node ts_waits.mjs URL TOKEN  (prints one JSON line with what it saw)
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { data } from "./result_data.mjs";

const [url, token] = process.argv.slice(2);
const transport = new StreamableHTTPClientTransport(new URL(url), {
  requestInit: { headers: { Authorization: `Bearer ${token}` } },
});
const client = new Client({ name: "ts-sdk-waits", version: "1.0.0" });
await client.connect(transport);

const progress = [];
const started = Date.now();
const result = await client.callTool(
  { name: "execute_flow", arguments: { namespace: "company.team", flow_id: "slow", wait: true } },
  undefined,
  { timeout: 2500, resetTimeoutOnProgress: true, onprogress: (p) => progress.push(p) },
);
const elapsedMs = Date.now() - started;

const controller = new AbortController();
let cancelled = null;
const call = client.callTool(
  { name: "execute_flow", arguments: { namespace: "company.team", flow_id: "endless", wait: true } },
  undefined,
  {
    signal: controller.signal,
    timeout: 30000,
    onprogress: () => controller.abort("the user changed their mind"),
  },
);
try {
  await call;
  cancelled = "answered";
} catch (e) {
  cancelled = String(e?.message ?? e);
}
// The SDK sends notifications/cancelled as it rejects; closing at once could cut that POST.
await new Promise((resolve) => setTimeout(resolve, 1000));
console.log(JSON.stringify({
  elapsedMs,
  state: data(result)?.state ?? null,
  outputs: data(result)?.outputs ?? null,
  isError: result.isError ?? false,
  progress: progress.map((p) => p.progress),
  totals: progress.map((p) => p.total ?? null),
  messages: progress.map((p) => p.message ?? null),
  cancelled,
}));
await client.close();
