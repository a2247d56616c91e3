// Prints the llama.cpp release and build of the installed CPU binary as JSON; exits non-zero when it cannot load.
import { getLlama, LlamaLogLevel } from "node-llama-cpp";

const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error });
process.stdout.write(JSON.stringify({ llamaCpp: llama.llamaCppRelease.release, build: llama.buildType, gpu: llama.gpu }) + "\n");
await llama.dispose();
