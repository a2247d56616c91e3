using SharpSeek.Model;


namespace SharpSeek.Inference;

/// <summary>What one sequence contributes to a step's forward pass.</summary>
internal enum StepKind
{
    /// <summary>Feeds pending tokens (a prefill chunk, or one decode token); draws when it fed all of them.</summary>
    Feed,
    /// <summary>Feeds [last token, MTP draft]; the first row draws, and a confirmed draft gives a second token.</summary>
    Verify,
}

internal readonly record struct StepItem(SequenceRun Run, int Segment, StepKind Kind, int Fed, bool Draws);

/// <summary>
/// The scheduling policy of one step: which rows go into the forward pass. Every decoding sequence gets its token (and
/// its draft, when speculating) first, oldest first, so running streams keep flowing; the rest of the token budget goes
/// to prefill chunks of the oldest sequences still reading their prompts (chunked prefill: a long prompt shares steps
/// with everyone else's decoding). Pages come from the pool as rows are planned; when it runs dry (after the context
/// cache gave back what it could), the newest sequence is preempted — its pages freed, the request requeued to be
/// recomputed — so older sequences always finish.
/// </summary>
internal sealed class StepPlanner(EngineOptions options)
{
    private readonly List<StepItem> _items = [];
    private readonly int[] _pair = new int[2];

    public IReadOnlyList<StepItem> Items => _items;

    /// <param name="running">Admitted sequences, oldest first.</param>
    /// <param name="preempt">Frees a sequence's pages and requeues it (the engine's part; it sets <see cref="SequenceRun.Preempted"/>).</param>
    /// <param name="fail">Ends a sequence that can never fit (its need exceeds the whole pool).</param>
    /// <param name="plainProbe">Feed drafts' sequences one plain token this step (to measure what speculation costs).</param>
    public void Plan(List<SequenceRun> running, ForwardBatch batch, Action<SequenceRun> preempt, Action<SequenceRun, string> fail, bool plainProbe = false)
    {
        _items.Clear();
        batch.Clear();
        foreach (var run in running) run.InStep = false;
        // Decoding sequences first: one row each, two with a draft to verify.
        for (int i = 0; i < running.Count; i++)
        {
            var run = running[i];
            if (run.Done || run.Preempted || run.Prefilling) continue;
            bool verify = !plainProbe && run.Speculating && run.DraftToken >= 0 && run.Kv.Length + 2 <= options.MaxContext;
            int n = verify ? 2 : 1;
            var room = Prepare(running, i, n, preempt);
            if (room == Room.Never) fail(run, "the KV cache memory is full (raise --kv-memory)");
            if (room != Room.Ready) continue;
            run.InStep = true;
            if (verify)
            {
                _pair[0] = run.LastToken;
                _pair[1] = run.DraftToken;
                _items.Add(new StepItem(run, batch.Add(run.Kv, _pair, LogitsFor.AllPositions), StepKind.Verify, 2, true));
            }
            else _items.Add(new StepItem(run, batch.Add(run.Kv, run.Feed[^1..], LogitsFor.LastPosition), StepKind.Feed, 1, true));
        }
        // Then prompt chunks, oldest first, while the budget lasts.
        for (int i = 0; i < running.Count && batch.RemainingTokens > 0; i++)
        {
            var run = running[i];
            if (run.Done || run.Preempted || !run.Prefilling) continue;
            int n = Math.Min(Math.Min(run.Pending, options.PrefillChunkTokens), batch.RemainingTokens);
            var room = Prepare(running, i, n, preempt);
            if (room == Room.Never) fail(run, "the prompt does not fit the KV cache memory (raise --kv-memory)");
            if (room != Room.Ready) continue;
            run.InStep = true;
            bool draws = n == run.Pending;
            int seg = batch.Add(run.Kv, run.Feed.Slice(run.Kv.Length, n), draws ? LogitsFor.LastPosition : LogitsFor.None);
            _items.Add(new StepItem(run, seg, StepKind.Feed, n, draws));
        }
    }

    private enum Room { Ready, Wait, Preempted, Never }

    /// <summary>
    /// Makes room for <paramref name="n"/> more positions of running[<paramref name="index"/>] (and its MTP rows),
    /// preempting newer sequences that are not in this step, newest first, while pages are short. With nothing left to
    /// preempt, a decoding sequence preempts itself so older ones can finish, and a prefilling one waits; a sequence
    /// alone with an empty pool around it can never fit.
    /// </summary>
    private static Room Prepare(List<SequenceRun> running, int index, int n, Action<SequenceRun> preempt)
    {
        var run = running[index];
        var kv = run.Kv;
        int from = kv.MtpDepth > 0 && run.Speculating ? Math.Min(kv.Length, kv.MtpLength(0)) : kv.Length;
        while (!kv.TryPrepare(from, kv.Length + n))
        {
            int victim = -1;
            for (int j = running.Count - 1; j > index; j--)
                if (Live(running[j]) && !running[j].InStep) { victim = j; break; }
            if (victim >= 0)
            {
                preempt(running[victim]);
                continue;
            }
            bool others = false;
            foreach (var r in running) others |= r != run && Live(r);
            if (!others) return Room.Never;
            if (run.Prefilling) return Room.Wait;
            preempt(run);
            return Room.Preempted;
        }
        return Room.Ready;
    }

    private static bool Live(SequenceRun r) => !r.Done && !r.Preempted;
}
