namespace SharpSeek.Inference;

/// <summary>Capacity and scheduling settings of an <see cref="InferenceEngine"/>.</summary>
public sealed record EngineOptions
{
    /// <summary>Sequences generating at once (each owns a KV-cache session); the rest wait in the queue.</summary>
    public int MaxConcurrentSequences { get; init; } = 4;
    /// <summary>Requests that may wait for a slot; past this (plus the running ones) submissions are refused.</summary>
    public int MaxQueuedRequests { get; init; } = 16;
    /// <summary>Positions per sequence (prompt + output).</summary>
    public int MaxContext { get; init; } = 4096;
    /// <summary>Prompt tokens computed per scheduler step, so long prefills interleave with other sequences' decoding.</summary>
    public int PrefillChunkTokens { get; init; } = 256;
    /// <summary>A request still queued after this long ends with <see cref="FinishReason.Expired"/>.</summary>
    public TimeSpan MaxQueueWait { get; init; } = TimeSpan.FromMinutes(10);
    /// <summary>Reasoning tokens after which the engine closes the reasoning block itself (DeepSeek-R1's CoT limit is 32K).</summary>
    public int DefaultMaxReasoningTokens { get; init; } = 32768;
    /// <summary>Draft with the model's MTP head and verify (self-speculative decoding) when the model has one.</summary>
    public bool SpeculativeDecoding { get; init; } = true;

    public void Validate()
    {
        if (MaxConcurrentSequences < 1) throw new ArgumentOutOfRangeException(nameof(MaxConcurrentSequences), MaxConcurrentSequences, "at least one sequence slot");
        if (MaxQueuedRequests < 0) throw new ArgumentOutOfRangeException(nameof(MaxQueuedRequests), MaxQueuedRequests, "queue length must not be negative");
        if (MaxContext < 2) throw new ArgumentOutOfRangeException(nameof(MaxContext), MaxContext, "context must hold at least two positions");
        if (PrefillChunkTokens < 1) throw new ArgumentOutOfRangeException(nameof(PrefillChunkTokens), PrefillChunkTokens, "prefill chunk must be positive");
        if (DefaultMaxReasoningTokens < 1) throw new ArgumentOutOfRangeException(nameof(DefaultMaxReasoningTokens), DefaultMaxReasoningTokens, "reasoning budget must be positive");
    }
}
