// Runs llama.cpp (through node-llama-cpp's prebuilt library) on one model
// and prints JSON on stdout. Request on stdin:
//   {"model": PATH, "tokens": [ids] | null, "text": STRING | null,
//    "threads": N, "top": K}
// Reply: {"tokens": [...] (the text's tokens, add-special off),
//         "positions": [{"top": [[id, p], ...]}, ...]}  (K most probable
// next tokens after each position, softmax at temperature 1).
// Context as in the fixture goldens: f32 KV cache, no flash attention.
import {getLlama} from "node-llama-cpp";

const chunks = [];
for await (const c of process.stdin) chunks.push(c);
const req = JSON.parse(Buffer.concat(chunks).toString("utf8"));

const llama = await getLlama({build: "never", gpu: false, logLevel: "error", progressLogs: false});
const model = await llama.loadModel({modelPath: req.model});
const reply = {};
if (req.text != null) {
  reply.tokens = Array.from(model.tokenize(req.text, false));
}
if (req.tokens != null && req.tokens.length > 0) {
  const ctx = await model.createContext({
    contextSize: Math.max(64, req.tokens.length + 8),
    threads: req.threads || 2,
    flashAttention: false,
    experimentalKvCacheKeyType: "F32",
    experimentalKvCacheValueType: "F32",
  });
  const seq = ctx.getSequence();
  const opts = {probabilities: true, options: {temperature: 1, topK: 0, topP: 1, minP: 0}};
  const out = await seq.controlledEvaluate(req.tokens.map(t => [t, {generateNext: opts}]));
  reply.positions = out.map(o => ({top: [...o.next.probabilities.entries()].slice(0, req.top || 10)}));
  await ctx.dispose();
}
await model.dispose();
process.stdout.write(JSON.stringify(reply));
