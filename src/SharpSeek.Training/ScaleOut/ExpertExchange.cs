using System.Numerics;
using SharpSeek.Training.Autodiff;
using SharpSeek.Training.Ops;

namespace SharpSeek.Training.ScaleOut;

/// <summary>
/// One MoE layer's all-to-all under expert parallelism. The rows of a rank, sorted by expert (<see cref="RoutingPlan"/>),
/// are already grouped by owning rank because ownership is contiguous, so rank q's part is one slice. What arrives is
/// grouped by source rank; the owner's grouped GEMMs want it grouped by expert, so <see cref="Local"/> and
/// <see cref="LocalOrder"/> describe that permutation. The same counts, swapped, carry outputs back and gradients both ways.
/// </summary>
public sealed class ExpertExchange
{
    private ExpertExchange(int[] sendRows, int[] receiveRows, int[] localOrder, RoutingPlan local)
    {
        SendRows = sendRows;
        ReceiveRows = receiveRows;
        LocalOrder = localOrder;
        Local = local;
    }

    /// <summary>Rows this rank sends to each rank.</summary>
    public int[] SendRows { get; }
    /// <summary>Rows this rank receives from each rank.</summary>
    public int[] ReceiveRows { get; }
    /// <summary>[row in expert order] → row in arrival order.</summary>
    public int[] LocalOrder { get; }
    /// <summary>The owned experts' rows as a plan of their own (experts numbered from 0).</summary>
    public RoutingPlan Local { get; }

    /// <summary>Exchanges how many rows each rank sends to each of the owner's experts, and derives the layout.</summary>
    public static ExpertExchange Build(ExpertParallelism ep, RoutingPlan plan)
    {
        int ranks = ep.World.Size, per = ep.PerRank;
        var counts = new int[ep.Experts];
        for (int e = 0; e < ep.Experts; e++) counts[e] = plan.CountOf(e);
        var received = new int[ranks * per]; // [source, local expert]
        var fixedCounts = Enumerable.Repeat(per, ranks).ToArray();
        long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
        ep.World.AllToAllV(counts, fixedCounts, received, fixedCounts);
        ep.CountExchange(t0);

        var sendRows = new int[ranks];
        for (int e = 0; e < ep.Experts; e++) sendRows[ep.OwnerOf(e)] += counts[e];
        var receiveRows = new int[ranks];
        var sourceStart = new int[ranks + 1];
        for (int s = 0; s < ranks; s++)
        {
            for (int j = 0; j < per; j++) receiveRows[s] += received[s * per + j];
            sourceStart[s + 1] = sourceStart[s] + receiveRows[s];
        }
        int total = sourceStart[ranks];
        var local = new RoutingPlan(total, 1, per);
        var order = new int[total];
        int at = 0;
        var within = new int[ranks]; // next row of each source's block
        for (int j = 0; j < per; j++)
        {
            local.Offsets[j] = at;
            for (int s = 0; s < ranks; s++)
            {
                int n = received[s * per + j];
                for (int i = 0; i < n; i++) order[at++] = sourceStart[s] + within[s] + i;
                within[s] += n;
            }
        }
        local.Offsets[per] = at;
        return new ExpertExchange(sendRows, receiveRows, order, local);
    }
}

/// <summary>The two exchanges as tape ops (f32 only: the communicator moves floats).</summary>
public static unsafe class ExpertExchangeOps
{
    /// <summary>Rows sorted by expert → the rows of the experts this rank owns, from every rank, in expert order.</summary>
    public static Node<T> ExchangeToOwners<T>(this Tape<T> tape, Node<T> sorted, ExpertParallelism ep, ExpertExchange exchange)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        RequireFloat<T>();
        int h = sorted.Cols;
        var arrived = new float[(long)exchange.Local.Assignments * h];
        long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
        ep.World.AllToAllV(Floats(sorted.Value, sorted.Length), Scaled(exchange.SendRows, h), arrived, Scaled(exchange.ReceiveRows, h));
        ep.CountExchange(t0);
        var y = tape.NewNode(exchange.Local.Assignments, h, tape.AnyRequiresGrad(sorted));
        Permute(arrived, Floats(y.Value, y.Length), exchange.LocalOrder, h, toLocal: true);
        if (y.RequiresGrad) tape.Record(new ToOwnersStep<T>(sorted, y, ep, exchange), y);
        return y;
    }

    /// <summary>The owner's outputs in expert order → back to the ranks the rows came from, in their sorted order.</summary>
    public static Node<T> ExchangeFromOwners<T>(this Tape<T> tape, Node<T> outputs, int rows, ExpertParallelism ep, ExpertExchange exchange)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        RequireFloat<T>();
        int h = outputs.Cols;
        var arrival = new float[outputs.Length];
        Permute(arrival, Floats(outputs.Value, outputs.Length), exchange.LocalOrder, h, toLocal: false);
        var y = tape.NewNode(rows, h, tape.AnyRequiresGrad(outputs));
        long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
        ep.World.AllToAllV(arrival, Scaled(exchange.ReceiveRows, h), Floats(y.Value, y.Length), Scaled(exchange.SendRows, h));
        ep.CountExchange(t0);
        if (y.RequiresGrad) tape.Record(new FromOwnersStep<T>(outputs, y, ep, exchange), y);
        return y;
    }

    private sealed class ToOwnersStep<T>(Node<T> sorted, Node<T> y, ExpertParallelism ep, ExpertExchange exchange) : TapeStep
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        public override bool Collective => true;

        public override void Backward()
        {
            int h = sorted.Cols;
            var arrival = new float[y.Length];
            Permute(arrival, Floats(y.Grad, y.Length), exchange.LocalOrder, h, toLocal: false);
            var back = new float[sorted.Length];
            long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
            ep.World.AllToAllV(arrival, Scaled(exchange.ReceiveRows, h), back, Scaled(exchange.SendRows, h));
            ep.CountExchange(t0);
            if (sorted.RequiresGrad) System.Numerics.Tensors.TensorPrimitives.Add(Floats(sorted.Grad, sorted.Length), back, Floats(sorted.Grad, sorted.Length));
        }
    }

    private sealed class FromOwnersStep<T>(Node<T> outputs, Node<T> y, ExpertParallelism ep, ExpertExchange exchange) : TapeStep
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        public override bool Collective => true;

        public override void Backward()
        {
            int h = outputs.Cols;
            var arrived = new float[outputs.Length];
            long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
            ep.World.AllToAllV(Floats(y.Grad, y.Length), Scaled(exchange.SendRows, h), arrived, Scaled(exchange.ReceiveRows, h));
            ep.CountExchange(t0);
            if (!outputs.RequiresGrad) return;
            var local = new float[outputs.Length];
            Permute(arrived, local, exchange.LocalOrder, h, toLocal: true);
            var grad = Floats(outputs.Grad, outputs.Length);
            System.Numerics.Tensors.TensorPrimitives.Add(grad, local, grad);
        }
    }

    /// <summary>toLocal: local[k] = arrival[order[k]]; otherwise arrival[order[k]] = local[k] (rows of <paramref name="h"/>).</summary>
    private static void Permute(Span<float> arrival, Span<float> local, int[] order, int h, bool toLocal)
    {
        for (int k = 0; k < order.Length; k++)
        {
            var a = arrival.Slice(order[k] * h, h);
            var l = local.Slice(k * h, h);
            if (toLocal) a.CopyTo(l);
            else l.CopyTo(a);
        }
    }

    private static int[] Scaled(int[] rows, int h) => rows.Select(r => checked(r * h)).ToArray();

    private static Span<float> Floats<T>(T* p, long length) where T : unmanaged => new(p, checked((int)length));

    private static void RequireFloat<T>()
    {
        if (typeof(T) != typeof(float)) throw new NotSupportedException("expert parallelism exchanges f32 activations only");
    }
}
