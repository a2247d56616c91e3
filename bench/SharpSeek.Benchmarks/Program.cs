using SharpSeek.Benchmarks;
using SharpSeek.Tensors.Threading;

// Kernel benchmark: the machine's limits and the kernels' ratio to them, measured in one run.
string section = args.Length > 0 ? args[0] : "kernels";
if (section is "gemm-quick")
{
    using var p2 = new ComputePool(2);
    using var p1q = new ComputePool(1);
    Console.WriteLine($"peak 1t {MachineLimits.PeakFmaGflops(p1q):F1}  2t {MachineLimits.PeakFmaGflops(p2):F1}");
    foreach (int n in new[] { 1024, 2048 })
        Console.WriteLine($"gemm {n} 1t {GemmBenchmark.Gflops(p1q, n):F1} 2t {GemmBenchmark.Gflops(p2, n):F1} 2t-transB {GemmBenchmark.Gflops(p2, n, transB: true):F1}");
    return;
}
Console.WriteLine("unknown section");
