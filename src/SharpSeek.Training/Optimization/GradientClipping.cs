using SharpSeek.Tensors.Threading;
using SharpSeek.Training.Autodiff;

namespace SharpSeek.Training.Optimization;

/// <summary>Clipping by the global L2 norm of all gradients (V3 clips at 1.0).</summary>
public static unsafe class GradientClipping
{
    /// <summary>‖g‖₂ over every trainable parameter, summed in float64 over fixed chunks (same answer for any thread count).</summary>
    public static double GlobalNorm(IEnumerable<Parameter<float>> parameters, ComputePool pool)
    {
        const int chunk = 16384;
        double total = 0;
        foreach (var p in parameters)
        {
            if (!p.Trainable) continue;
            float* g = p.Grad;
            long n = p.Length;
            int chunks = (int)((n + chunk - 1) / chunk);
            var partial = new double[chunks];
            ParallelRange.For(pool, chunks, 1, (s, e) =>
            {
                for (int c = s; c < e; c++)
                {
                    long i = (long)c * chunk;
                    int len = (int)Math.Min(chunk, n - i);
                    double acc = 0;
                    var span = new ReadOnlySpan<float>(g + i, len);
                    foreach (float x in span) acc += (double)x * x;
                    partial[c] = acc;
                }
            });
            foreach (double x in partial) total += x;
        }
        return Math.Sqrt(total);
    }

    /// <summary>Scales every gradient by max/‖g‖ when ‖g‖ exceeds <paramref name="maxNorm"/>; returns the norm before clipping.</summary>
    public static double ClipByGlobalNorm(IEnumerable<Parameter<float>> parameters, double maxNorm, ComputePool pool)
    {
        var list = parameters as IReadOnlyList<Parameter<float>> ?? parameters.ToList();
        double norm = GlobalNorm(list, pool);
        ClipToNorm(list, norm, maxNorm);
        return norm;
    }

    /// <summary>Clips <paramref name="parameters"/> as if their norm were <paramref name="norm"/> (a norm summed over processes).</summary>
    public static void ClipToNorm(IReadOnlyList<Parameter<float>> parameters, double norm, double maxNorm)
    {
        var list = parameters;
        if (maxNorm > 0 && norm > maxNorm)
        {
            float scale = (float)(maxNorm / norm);
            foreach (var p in list)
                if (p.Trainable) System.Numerics.Tensors.TensorPrimitives.Multiply(p.Gradients, scale, p.Gradients);
        }
    }
}
