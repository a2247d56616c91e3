using SharpSeek.Model;

namespace SharpSeek.Inference.Tests;

/// <summary>When a sequence keeps speculating: its acceptance against the measured cost of a speculating step.</summary>
public sealed class SpeculationPolicyTests(TinyModelFixture fixture) : IClassFixture<TinyModelFixture>
{
    private SequenceRun Run(InferenceEngine engine, KvPagePool pool) =>
        new(new GenerationStream(engine, new GenerationRequest { PromptTokens = [1, 2, 3] }, 1), new SequenceKv(pool), fixture.Served.Tokenizer,
            fixture.Served.Model.Config.VocabSize, 100) { Speculating = true, DraftToken = 5 };

    private static void Window(Speculation s, SequenceRun run, int accepted, int drafts, int decoders)
    {
        for (int i = 0; i < drafts; i++) s.Record(run, i < accepted, decoders);
    }

    [Fact]
    public void A_sequence_speculates_while_its_acceptance_beats_the_measured_cost()
    {
        var model = fixture.Served.Model;
        using var engine = fixture.CreateEngine();
        using var pool = new KvPagePool(model, 4 * KvPagePool.PageBytesFor(model, includeMtp: true), includeMtp: true);
        var s = new Speculation(model, new EngineOptions { DraftProbe = 4, MinDraftAcceptance = 0.4 });

        // Nothing measured yet: only the acceptance floor applies.
        Assert.True(double.IsNaN(s.CostRatio(1)));
        Assert.True(s.WantsPlainProbe(1, step: 0));
        var good = Run(engine, pool);
        Window(s, good, 3, 4, decoders: 1);
        Assert.True(good.Speculating);
        var poor = Run(engine, pool);
        Window(s, poor, 1, 4, decoders: 1);
        Assert.False(poor.Speculating);
        Assert.Equal(-1, poor.DraftToken);

        // Alone, a speculating step costs 1.9 plain steps (a tiny model): 75 % acceptance gives 1.75 tokens, not enough.
        // Among eight it costs 1.1 (a large model reads its weights once for all rows): the same acceptance pays (1.75 ≥ 1.1 · 1.1).
        // The first plain probes come back to back and the last of them stands (early steps run cold).
        for (int i = 0; i < 8; i++)
        {
            s.ObservePlain(1, i == 0 ? 0.005 : 0.001, step: 3 + i);
            s.ObservePlain(8, 0.010, step: 3 + i);
        }
        Assert.True(double.IsNaN(s.CostRatio(1))); // no speculating step seen yet
        s.ObserveSpeculating(1, 0.0019);
        s.ObserveSpeculating(8, 0.011);
        Assert.Equal(1.9, s.CostRatio(1), 6);
        Assert.Equal(1.1, s.CostRatio(8), 6);
        Assert.False(s.WantsPlainProbe(1, step: 11));
        Assert.True(s.WantsPlainProbe(1, step: 10 + 64));  // the plain figure goes stale and is probed again
        Assert.True(s.WantsPlainProbe(2, step: 11));       // never measured at this batch size

        var alone = Run(engine, pool);
        Window(s, alone, 3, 4, decoders: 1);
        Assert.False(alone.Speculating);
        var crowded = Run(engine, pool);
        Window(s, crowded, 3, 4, decoders: 8);
        Window(s, crowded, 3, 4, decoders: 8);
        Assert.True(crowded.Speculating);
        Assert.Equal(8, crowded.Drafted);
        Assert.Equal(6, crowded.Accepted);
    }
}
