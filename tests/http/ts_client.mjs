// The official TypeScript MCP SDK over Streamable HTTP: initialize, list tools, call one.
// Usage: node ts_client.mjs URL TOKEN  (prints one JSON line with what it saw)
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { data } from "./result_data.mjs";

const [url, token] = process.argv.slice(2);
const transport = new StreamableHTTPClientTransport(new URL(url), {
  requestInit: { headers: { Authorization: `Bearer ${token}` } },
});
const client = new Client({ name: "ts-sdk-test", version: "1.0.0" });
await client.connect(transport);
const tools = await client.listTools();
const result = await client.callTool({ name: "search_flows", arguments: { query: "hello" } });
const bad = await client.callTool({ name: "search_flows", arguments: { query: 42 } });
console.log(JSON.stringify({
  protocolVersion: transport.protocolVersion ?? null,
  toolCount: tools.tools.length,
  total: data(result)?.total ?? null,
  isError: result.isError ?? false,
  badIsError: bad.isError ?? false,
}));
await client.close();
