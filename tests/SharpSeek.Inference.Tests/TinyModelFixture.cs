using SharpSeek.Model;

namespace SharpSeek.Inference.Tests;

/// <summary>One tiny random-weight DeepSeek-V3-shaped model (with an MTP layer) over the byte tokenizer, shared by a test class.</summary>
public sealed class TinyModelFixture : IDisposable
{
    public ServedModel Served { get; } = ServedModel.CreateRandom(RandomModelSize.Tiny, seed: 7, maxPositions: 1024);

    public InferenceEngine CreateEngine(EngineOptions? options = null, ContextCache? cache = null) =>
        new(Served.Model, Served.Tokenizer, Served.Identity, options ?? new EngineOptions { MaxContext = 1024, SpeculativeDecoding = false }, cache);

    /// <summary>
    /// Greedy text straight from a session (outside reasoning </think> cannot be drawn; EOS ends): what the engine
    /// must reproduce token for token.
    /// </summary>
    public string GreedyReference(int[] prompt, int count)
    {
        var tok = Served.Tokenizer;
        int eos = tok.EosTokenId!.Value, thinkEnd = tok.TokenToId("</think>")!.Value;
        using var session = Served.Model.CreateSession(1024);
        var logits = session.Prefill(prompt).ToArray();
        var output = new List<int>();
        for (int i = 0; i < count; i++)
        {
            logits[thinkEnd] = float.NegativeInfinity;
            int t = SharpSeek.Tensors.Kernels.Selection.Argmax(logits);
            if (t == eos) break;
            output.Add(t);
            logits = session.Decode(t).ToArray();
        }
        return tok.Decode(output.ToArray(), skipSpecialTokens: true);
    }

    public static string TempDirectory()
    {
        string dir = Path.Combine(Path.GetTempPath(), "sharpseek-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }

    public void Dispose() => Served.Dispose();
}
