// A tool result's data for the TypeScript SDK tests: its JSON text (structuredContent comes only
// with an outputSchema); null when the text is not JSON (an error's message).
export const data = (result) => {
  try {
    return JSON.parse(result.content?.[0]?.text ?? "null");
  } catch {
    return null;
  }
};
