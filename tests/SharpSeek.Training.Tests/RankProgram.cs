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
        using var model = NewModel();
        model.ExpertParallel = new ExpertParallelism(world, model);
        using var tape = new Tape<float>(pool);
        using var step = new TrainingStep(model, tape, pool, new AdamWSettings(), world);
        step.Begin();
        int share = Sequences / world.Size;
        var r = model.Loss(tape, Batch().Slice(world.Rank * share, share), new ObjectiveSettings());
        step.Accumulate(r.Loss, 1f, "in the test", lastOfStep: true);
        step.SynchronizeGradients();
        var ep = model.ExpertParallel;
        foreach (int layer in model.MoeLayers)
            for (int e = 0; e < ep.Experts; e++)
                foreach (string name in (string[])[Model.WeightNames.ExpertGate(layer, e), Model.WeightNames.ExpertUp(layer, e), Model.WeightNames.ExpertDown(layer, e)])
                    world.Broadcast(MemoryMarshal.AsBytes(model[name].Gradients), ep.OwnerOf(e));
        if (world.Rank == 0) WriteGradients(model, file);
        Console.WriteLine($"rank {world.Rank}/{world.Size} ok");
        return 0;
    }

    /// <summary>The tiny preset (2 blocks + 1 MTP depth, 8 routed experts top-2, shared expert) with fixed weights.</summary>
    public static TrainableModel<float> NewModel()
    {
        var model = new TrainableModel<float>(TrainingPresets.Tiny);
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

    private static void WriteGradients(TrainableModel<float> model, string file)
    {
        using var writer = new BinaryWriter(File.Create(file));
        foreach (var p in model.Parameters.Where(p => p.Trainable))
        {
            writer.Write(p.Name);
            writer.Write(p.Length);
            foreach (float g in p.Gradients) writer.Write(g);
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
