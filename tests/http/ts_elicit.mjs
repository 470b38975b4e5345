// The official TypeScript MCP SDK over Streamable HTTP, with an elicitInput handler
// (`elicitation/create`): `execute_flow` with `wait` on a flow that stops at a Pause asking for
// onResume inputs; the handler accepts with values, and the execution resumes and ends.
// Usage: node ts_elicit.mjs URL TOKEN  (prints one JSON line with what it saw)
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ElicitRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import { data } from "./result_data.mjs";

const [url, token] = process.argv.slice(2);
const transport = new StreamableHTTPClientTransport(new URL(url), {
  requestInit: { headers: { Authorization: `Bearer ${token}` } },
});
const client = new Client(
  { name: "ts-sdk-elicit", version: "1.0.0" },
  { capabilities: { elicitation: { form: {} } } },
);
const asked = [];
let required = null;
client.setRequestHandler(ElicitRequestSchema, async (request) => {
  asked.push(request.params.message);
  required = request.params.requestedSchema?.required ?? null;
  return { action: "accept", content: { approved: true, comment: "ship it" } };
});
await client.connect(transport);

const result = await client.callTool(
  { name: "execute_flow", arguments: { namespace: "company.team", flow_id: "approval", wait: true } },
  undefined,
  { timeout: 30000 },
);
console.log(JSON.stringify({
  asked,
  required,
  isError: result.isError ?? false,
  state: data(result)?.state?.current ?? null,
  resumedWith: data(result)?.resumedWith ?? null,
}));
await client.close();
