using System.Diagnostics;
using SharpSeek.Inference.Tools;
using SharpSeek.Tokenizer;

namespace SharpSeek.Inference;

/// <summary>
/// What a drawn token becomes for the caller: reasoning or answer text (decoded incrementally, UTF-8 held back until
/// whole), stop strings, the JSON recognizer's state, tool calls (announced, then argument fragments), log-probabilities, and the end of the request — its result with
/// usage and timings.
/// </summary>
internal sealed class OutputWriter(ByteLevelBpeTokenizer? tokenizer, TokenChooser chooser, int maxContext)
{
    private long _generated, _completed;

    public long GeneratedTokens => Interlocked.Read(ref _generated);
    public long CompletedRequests => Interlocked.Read(ref _completed);

    /// <summary>Appends <paramref name="token"/> to <paramref name="run"/>, streams its text, and ends the run when it stops it.</summary>
    public void Emit(SequenceRun run, int token)
    {
        if (run.FirstTokenAt == 0) run.FirstTokenAt = Stopwatch.GetTimestamp();
        run.Generated++;
        run.Append(token);
        run.GeneratedTokens?.Add(token);
        run.Count(token);
        Interlocked.Increment(ref _generated);
        TokenLogprob? chosen = null;
        TokenLogprob[]? alternatives = null;
        if (run.Request.TopLogprobs is int top) (chosen, alternatives) = chooser.Logprobs(run, token, top);

        if (run.InReasoning) run.ReasoningTokens++;
        if (token == chooser.EndOfSequence && !run.Request.IgnoreEndOfSequence) { Finish(run, FinishReason.Stop, null); return; }

        if (run.Decoder is null) { }
        else if (!run.InReasoning && run.Tools is { } tools && (!tools.InText || !tools.IsTextToken(token)))
        {
            if (!EmitToolToken(run, tools, token)) return;
        }
        else if (run.InReasoning && token == chooser.ThinkEnd)
        {
            run.InReasoning = false;
            run.TrimContentStart = true;
            string tail = run.Decoder.Flush();
            if (tail.Length > 0) Write(run, OutputChannel.Reasoning, tail, null, null);
        }
        else
        {
            string text = run.Decoder.Append(token);
            if (run.InReasoning)
            {
                if (text.Length > 0 || chosen is not null) Write(run, OutputChannel.Reasoning, text, chosen, alternatives);
            }
            else
            {
                if (run.Json is { } json) json.TryFeed(tokenizer!.TokenBytes(token));
                if (run.TrimContentStart && text.Length > 0)
                {
                    text = text.TrimStart();
                    run.TrimContentStart = text.Length == 0;
                }
                string emit = run.Stops.Push(text, out bool stopped);
                if (emit.Length > 0 || chosen is not null) Write(run, OutputChannel.Content, emit, chosen, alternatives);
                if (stopped)
                {
                    run.Done = true; // the stop string already swallowed the tail: finish without flushing it
                    Complete(run, FinishReason.Stop, null);
                    return;
                }
            }
        }
        // The drawn token needs the next position; keep one spare as the context's last.
        if (run.Generated >= run.Request.MaxTokens || run.FeedLength >= maxContext) Finish(run, FinishReason.Length, null);
    }

    private static void Write(SequenceRun run, OutputChannel channel, string text, TokenLogprob? chosen, TokenLogprob[]? alternatives)
    {
        (channel == OutputChannel.Reasoning ? run.Reasoning : run.Content).Append(text);
        run.Stream.Write(new GenerationDelta(channel, text, chosen, alternatives));
    }

    /// <summary>
    /// A token of the tool-call grammar past the text: the opening marker ends the content (held-back text is
    /// released), a completed name announces a call, argument bytes stream as fragments, and the closing marker ends
    /// the sequence. False when the run has ended.
    /// </summary>
    private bool EmitToolToken(SequenceRun run, ToolCallRecognizer tools, int token)
    {
        if (tools.InText)
        {
            string held = run.Stops.Push(run.Decoder!.Flush(), out bool stopped);
            if (!stopped) held += run.Stops.Flush();
            if (held.Length > 0) Write(run, OutputChannel.Content, held, null, null);
            if (stopped)
            {
                run.Done = true;
                Complete(run, FinishReason.Stop, null);
                return false;
            }
        }
        if (!tools.Feed(token, out int started, out string fragment))
        {
            // Only a token the chooser did not vet gets here (none does): end rather than report a malformed call.
            Finish(run, FinishReason.Error, "the model's output broke the tool-call grammar");
            return false;
        }
        int index = tools.CallCount - 1;
        if (started >= 0)
        {
            var (id, name) = tools.Call(started);
            run.Stream.Write(new GenerationDelta(OutputChannel.ToolCall, "", ToolCall: new ToolCallDelta(started, id, name, "")));
        }
        if (fragment.Length > 0) run.Stream.Write(new GenerationDelta(OutputChannel.ToolCall, "", ToolCall: new ToolCallDelta(index, null, null, fragment)));
        if (tools.IsDone)
        {
            Finish(run, FinishReason.Stop, null);
            return false;
        }
        return true;
    }

    /// <summary>Ends <paramref name="run"/>: flushes held-back text (for normal ends) and completes its stream with the result.</summary>
    public void Finish(SequenceRun run, FinishReason reason, string? error)
    {
        if (run.Done) return;
        run.Done = true;
        if (reason is FinishReason.Stop or FinishReason.Length && run.Decoder is not null)
        {
            string tail = run.Decoder.Flush();
            if (run.InReasoning)
            {
                if (tail.Length > 0) Write(run, OutputChannel.Reasoning, tail, null, null);
            }
            else
            {
                string emit = run.Stops.Push(tail, out _) + run.Stops.Flush();
                if (emit.Length > 0) Write(run, OutputChannel.Content, emit, null, null);
            }
        }
        Complete(run, reason, error);
    }

    private void Complete(SequenceRun run, FinishReason reason, string? error)
    {
        run.Outcome = reason;
        long now = Stopwatch.GetTimestamp();
        var result = new GenerationResult
        {
            FinishReason = reason,
            Error = error,
            Content = run.Content.ToString(),
            Reasoning = run.Reasoning.ToString(),
            Usage = new GenerationUsage
            {
                PromptTokens = run.Request.PromptTokens.Length,
                CachedPromptTokens = run.CachedTokens,
                CompletionTokens = run.Generated,
                ReasoningTokens = run.ReasoningTokens,
                DraftedTokens = run.Drafted,
                AcceptedDraftTokens = run.Accepted,
            },
            QueueTime = Stopwatch.GetElapsedTime(run.Stream.SubmittedAt, run.StartedAt),
            TimeToFirstToken = run.FirstTokenAt == 0 ? TimeSpan.Zero : Stopwatch.GetElapsedTime(run.StartedAt, run.FirstTokenAt),
            GenerationTime = Stopwatch.GetElapsedTime(run.StartedAt, now),
            Tokens = run.GeneratedTokens?.ToArray(),
            Preemptions = run.Preemptions,
            ToolCalls = run.Tools?.Snapshot() ?? [],
            StopSequence = reason == FinishReason.Stop ? run.Stops.Matched : null,
        };
        Interlocked.Increment(ref _completed);
        run.Result = result; // delivered by Deliver once the engine has released the run's pages
    }

    /// <summary>Hands a finished run's totals to its caller and ends its stream.</summary>
    public static void Deliver(SequenceRun run)
    {
        if (run.Result is { } result) run.Stream.Finish(result);
        run.Result = null;
    }

    /// <summary>Ends a request that never started (cancelled or expired in the queue).</summary>
    public void EndUnstarted(GenerationStream w, FinishReason reason)
    {
        Interlocked.Increment(ref _completed);
        w.Finish(new GenerationResult
        {
            FinishReason = reason,
            Usage = new GenerationUsage { PromptTokens = w.Request.PromptTokens.Length },
            QueueTime = Stopwatch.GetElapsedTime(w.SubmittedAt),
        });
    }
}
