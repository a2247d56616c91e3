using System.Runtime.InteropServices;
using SharpSeek.Distributed;
using SharpSeek.Tensors;
using SharpSeek.Tensors.Threading;
using SharpSeek.Training.Autodiff;
using SharpSeek.Training.Data;
using SharpSeek.Training.Optimization;
using SharpSeek.Training.ScaleOut;

namespace SharpSeek.Training.Tests;

/// <summary>
/// What each rank of the expert-parallel gradient test runs (<c>mpirun -np N dotnet SharpSeek.Training.Tests.dll
/// ep-gradients FILE</c>): one micro-batch of the tiny MoE + MTP model with the routed experts spread over the ranks,
/// the step's gradient exchange, then every expert's gradient sent from its owner so rank 0 can write all of them.
/// </summary>
public static class RankProgram
{
    public const int Sequences = 8, SequenceLength = 32;

    public static int Main(string[] args)
    {
        if (args is not ["ep-gradients", var file])
        {
            Console.Error.WriteLine("usage: ep-gradients FILE");
            return 2;
        }
        using var world = Communicator.FromEnvironment();
        using var pool = new ComputePool(1);
        var ep = new ExpertParallelism(world, TrainingPresets.Tiny);
        using var model = NewModel(ep.Holds); // this rank's experts only
        ep.Bind(model);
        model.ExpertParallel = ep;
        using var tape = new Tape<float>(pool);
        using var step = new TrainingStep(model, tape, pool, new AdamWSettings(), world);
        step.Begin();
        int share = Sequences / world.Size;
        var r = model.Loss(tape, Batch().Slice(world.Rank * share, share), new ObjectiveSettings());
        step.Accumulate(r.Loss, 1f, "in the test", lastOfStep: true);
        step.SynchronizeGradients();
        // Every expert's gradient from its owner; rank 0 writes them with the replicated ones.
        var all = model.Parameters.Where(p => p.Trainable).ToDictionary(p => p.Name, p => p.Gradients.ToArray());
        var config = TrainingPresets.Tiny;
        int h = config.HiddenSize, f = config.MoeIntermediateSize;
        foreach (int layer in model.MoeLayers)
            for (int e = 0; e < ep.Experts; e++)
                foreach (string name in (string[])[Model.WeightNames.ExpertGate(layer, e), Model.WeightNames.ExpertUp(layer, e), Model.WeightNames.ExpertDown(layer, e)])
                {
                    var g = ep.Owns(e) ? all[name] : new float[h * f];
                    world.Broadcast(MemoryMarshal.AsBytes(g.AsSpan()), ep.OwnerOf(e));
                    all[name] = g;
                }
        if (world.Rank == 0) WriteGradients(all, file);
        Console.WriteLine($"rank {world.Rank}/{world.Size} ok, holding {model.Parameters.Count(p => p.Name.Contains(".experts.", StringComparison.Ordinal))} expert matrices");
        return 0;
    }

    /// <summary>The tiny preset (2 blocks + 1 MTP depth, 8 routed experts top-2, shared expert) with fixed weights.</summary>
    public static TrainableModel<float> NewModel(Func<int, int, bool>? holdsExpert = null)
    {
        var model = new TrainableModel<float>(TrainingPresets.Tiny, holdsExpert);
        model.Initialize(7);
        return model;
    }

    /// <summary>A fixed batch of random tokens.</summary>
    public static TokenBatch Batch()
    {
        var rng = new DeterministicRandom(11);
        var tokens = new int[Sequences * (SequenceLength + 1)];
        for (int i = 0; i < tokens.Length; i++) tokens[i] = rng.NextInt(TrainingPresets.Tiny.VocabSize);
        return new TokenBatch(tokens, Sequences, SequenceLength);
    }

    private static void WriteGradients(Dictionary<string, float[]> gradients, string file)
    {
        using var writer = new BinaryWriter(File.Create(file));
        foreach (var (name, values) in gradients)
        {
            writer.Write(name);
            writer.Write((long)values.Length);
            foreach (float g in values) writer.Write(g);
        }
    }

    public static Dictionary<string, float[]> ReadGradients(string file)
    {
        var result = new Dictionary<string, float[]>();
        using var reader = new BinaryReader(File.OpenRead(file));
        while (reader.BaseStream.Position < reader.BaseStream.Length)
        {
            string name = reader.ReadString();
            var g = new float[reader.ReadInt64()];
            for (int i = 0; i < g.Length; i++) g[i] = reader.ReadSingle();
            result[name] = g;
        }
        return result;
    }
}
