using SharpSeek.Inference.Tools;
using SharpSeek.Tensors.Kernels;

namespace SharpSeek.Inference;

/// <summary>How one request draws its tokens. Penalties follow OpenAI: logit −= frequency·count + presence·[count &gt; 0].</summary>
public sealed record SamplingSettings
{
    /// <summary>0 = greedy.</summary>
    public float Temperature { get; init; } = 1f;
    public float TopP { get; init; } = 1f;
    /// <summary>0 = off.</summary>
    public int TopK { get; init; }
    /// <summary>Fixes the draw sequence; null draws a fresh seed.</summary>
    public ulong? Seed { get; init; }
    public float FrequencyPenalty { get; init; }
    public float PresencePenalty { get; init; }

    public static SamplingSettings Default { get; } = new();

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the bad field.</summary>
    public void Validate()
    {
        if (!(Temperature >= 0 && Temperature <= 2)) throw new ArgumentOutOfRangeException("temperature", Temperature, "temperature must be in [0, 2]");
        if (!(TopP > 0 && TopP <= 1)) throw new ArgumentOutOfRangeException("top_p", TopP, "top_p must be in (0, 1]");
        if (TopK < 0) throw new ArgumentOutOfRangeException("top_k", TopK, "top_k must be ≥ 0");
        if (!(FrequencyPenalty >= -2 && FrequencyPenalty <= 2)) throw new ArgumentOutOfRangeException("frequency_penalty", FrequencyPenalty, "frequency_penalty must be in [-2, 2]");
        if (!(PresencePenalty >= -2 && PresencePenalty <= 2)) throw new ArgumentOutOfRangeException("presence_penalty", PresencePenalty, "presence_penalty must be in [-2, 2]");
    }

    internal SamplingOptions ToKernelOptions(ulong seed) => new(Temperature, TopK, TopP, seed);
}

/// <summary>One generation the engine runs: a prompt already turned into token ids, and when to stop.</summary>
public sealed record GenerationRequest
{
    public required int[] PromptTokens { get; init; }
    public SamplingSettings Sampling { get; init; } = SamplingSettings.Default;
    /// <summary>Most tokens to generate, reasoning included.</summary>
    public int MaxTokens { get; init; } = 4096;
    /// <summary>Texts that end the answer (not included in it); they apply to the content, not to the reasoning.</summary>
    public IReadOnlyList<string> StopStrings { get; init; } = [];
    /// <summary>The prompt ends inside a reasoning block (the R1 generation prompt opens <c>&lt;think&gt;</c>).</summary>
    public bool StartsInReasoning { get; init; }
    /// <summary>Reasoning tokens after which the engine closes the block itself (a thinking budget); null = engine default.</summary>
    public int? MaxReasoningTokens { get; init; }
    /// <summary>Constrain the content to one JSON value (response_format json_object).</summary>
    public bool JsonContent { get; init; }
    /// <summary>Never draw the end-of-sequence token (fixed-length runs for benchmarks and load tests).</summary>
    public bool IgnoreEndOfSequence { get; init; }
    /// <summary>Use the context cache for this request (lookup and store).</summary>
    public bool UseContextCache { get; init; } = true;
    /// <summary>Context-cache partition (the server's account or sharing group): hits come only from the same partition.</summary>
    public string CachePartition { get; init; } = "";
    /// <summary>Report the chosen token's log-probability and this many alternatives per token (0–20); null = no logprobs.</summary>
    public int? TopLogprobs { get; init; }
    /// <summary>
    /// Draw from the model's distribution as it is (penalties and the sampler only): no masking of undecodable or
    /// special tokens and no reasoning or JSON rules. For RL rollouts, whose log-probabilities must match the policy's.
    /// </summary>
    public bool RawSampling { get; init; }
    /// <summary>Return the generated token ids in <see cref="GenerationResult.Tokens"/>.</summary>
    public bool ReturnTokens { get; init; }
    /// <summary>
    /// Functions the model may call and the tool choice (<see cref="ToolSet.Create"/>); null = no tools (tool markers
    /// the model writes are then dropped from the text, as before). With tools, every call the model opens is decoded
    /// under the tool-call grammar, calls arrive as <see cref="OutputChannel.ToolCall"/> deltas and in
    /// <see cref="GenerationResult.ToolCalls"/>, and the sequence ends when the call list closes. The prompt must
    /// describe the tools (<see cref="ChatPromptFormatter.Format(IReadOnlyList{PromptMessage}, ChatMode, ToolSet?)"/>).
    /// <see cref="JsonContent"/> only applies when the choice is <see cref="ToolChoiceKind.None"/>.
    /// </summary>
    public ToolSet? Tools { get; init; }
}

/// <summary>Where a piece of generated text belongs.</summary>
public enum OutputChannel
{
    Reasoning,
    Content,
    /// <summary>A tool call's announcement or argument fragment: <see cref="GenerationDelta.ToolCall"/> holds it; Text is empty.</summary>
    ToolCall,
}

/// <summary>A log-probability of one candidate token.</summary>
public readonly record struct TokenLogprob(string Token, float Logprob, byte[] Bytes);

/// <summary>Text that became final in one step (possibly empty when the step's bytes are held back).</summary>
public readonly record struct GenerationDelta(OutputChannel Channel, string Text, TokenLogprob? Chosen = null, TokenLogprob[]? Alternatives = null, ToolCallDelta? ToolCall = null);

/// <summary>Why generation ended.</summary>
public enum FinishReason
{
    /// <summary>End-of-sequence token, a stop string, a complete JSON value, or a closed list of tool calls (see <see cref="GenerationResult.EndedWithToolCalls"/>).</summary>
    Stop,
    /// <summary>max_tokens or the context window was reached.</summary>
    Length,
    /// <summary>The caller cancelled (a disconnected client).</summary>
    Cancelled,
    /// <summary>The request waited in the queue past its limit and never started.</summary>
    Expired,
    /// <summary>The engine failed while running this request.</summary>
    Error,
}

/// <summary>Token accounting of a finished generation.</summary>
public sealed record GenerationUsage
{
    public int PromptTokens { get; init; }
    /// <summary>Prompt tokens restored from the context cache instead of prefilled.</summary>
    public int CachedPromptTokens { get; init; }
    public int PromptCacheMissTokens => PromptTokens - CachedPromptTokens;
    public int CompletionTokens { get; init; }
    public int ReasoningTokens { get; init; }
    /// <summary>Tokens the MTP head proposed and how many the main model confirmed.</summary>
    public int DraftedTokens { get; init; }
    public int AcceptedDraftTokens { get; init; }
}

/// <summary>Outcome of a generation: the full texts, why it ended, usage and timings.</summary>
public sealed record GenerationResult
{
    public required FinishReason FinishReason { get; init; }
    public required GenerationUsage Usage { get; init; }
    public string Content { get; init; } = "";
    public string Reasoning { get; init; } = "";
    /// <summary>Time spent waiting for a free sequence slot.</summary>
    public TimeSpan QueueTime { get; init; }
    /// <summary>From the start of inference to the first generated token (prefill or cache restore included).</summary>
    public TimeSpan TimeToFirstToken { get; init; }
    public TimeSpan GenerationTime { get; init; }
    public string? Error { get; init; }
    /// <summary>The generated token ids (end-of-sequence included when drawn), when the request asked for them.</summary>
    public int[]? Tokens { get; init; }
    /// <summary>Times the engine preempted this request for memory and recomputed it.</summary>
    public int Preemptions { get; init; }
    /// <summary>The tool calls the model made, in order (a call cut by <see cref="FinishReason.Length"/> has partial arguments).</summary>
    public IReadOnlyList<GeneratedToolCall> ToolCalls { get; init; } = [];
    /// <summary>The stop string that ended the reply (Anthropic's <c>stop_sequence</c>); null when another cause did.</summary>
    public string? StopSequence { get; init; }
    /// <summary>The reply ended by closing its tool calls: OpenAI's finish_reason "tool_calls", Anthropic's stop_reason "tool_use".</summary>
    public bool EndedWithToolCalls => FinishReason == FinishReason.Stop && ToolCalls.Count > 0;
}
