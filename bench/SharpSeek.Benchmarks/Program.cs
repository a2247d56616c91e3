using SharpSeek.Benchmarks;
using SharpSeek.Tensors;
using SharpSeek.Tensors.Kernels;
using SharpSeek.Tensors.Threading;
using SharpSeek.Tensors.Diagnostics;

// Kernel benchmark: this machine's limits and our kernels' ratio to them, all measured in this one run.
//   dotnet run -c Release --project bench/SharpSeek.Benchmarks -- kernels          (everything)
//   dotnet run -c Release --project bench/SharpSeek.Benchmarks -- linear [DTYPE…]  (limits + the many-rows Linear table only)
string section = args.Length > 0 ? args[0] : "kernels";
if (section is not ("kernels" or "linear"))
{
    Console.Error.WriteLine($"unknown section '{section}'; sections: kernels (everything), linear (machine limits and the many-rows Linear table)");
    return 2;
}
DType[]? linearTypes = null;
if (section == "linear" && args.Length > 1)
{
    try { linearTypes = args.Skip(1).Select(a => Enum.Parse<DType>(a, ignoreCase: true)).ToArray(); }
    catch (ArgumentException e) { Console.Error.WriteLine(e.Message); return 2; }
}

using var one = new ComputePool(1);
using var two = new ComputePool(2);
Console.WriteLine($"SharpSeek kernel benchmark — {Environment.ProcessorCount} cores, GEMM kernel path {Gemm.BestPath}, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC");
Console.WriteLine();
Console.WriteLine("== machine limits (measured now)");
double peak1 = MachineLimits.PeakFmaGflops(one), peak2 = MachineLimits.PeakFmaGflops(two);
Console.WriteLine($"f32 FMA peak        1 thread {peak1,7:F1} GFLOP/s   2 threads {peak2,7:F1} GFLOP/s");
double bw1 = MachineLimits.MeasureReadBandwidth(one), bw2 = MachineLimits.MeasureReadBandwidth(two);
Console.WriteLine($"DRAM read bandwidth 1 thread {bw1,7:F1} GB/s      2 threads {bw2,7:F1} GB/s");
Console.WriteLine();
if (section == "linear")
{
    LinearBenchmark.PrintTable(two, peak2, bw2, linearTypes);
    return 0;
}
Console.WriteLine("== f32 GEMM (C = A·B, square; median of 5)");
Console.WriteLine($"{"size",-6} {"threads",7} {"GFLOP/s",9} {"of peak",8}");
foreach (int n in new[] { 1024, 2048 })
    foreach (var (pool, peak) in new[] { (one, peak1), (two, peak2) })
    {
        double g = GemmBenchmark.Gflops(pool, n);
        Console.WriteLine($"{n + "³",-6} {pool.ThreadCount,7} {g,9:F1} {100 * g / peak,7:F0}%");
    }
Console.WriteLine();
Console.WriteLine("== GEMV y = W·x (m = 1), effective weight bytes/s, 2 threads");
foreach (var (name, gbps) in QuantizedGemvBenchmark.RunStandardSuite(two))
    Console.WriteLine($"{gbps,8:F1} GB/s  {name}");
Console.WriteLine();
LinearBenchmark.PrintTable(two, peak2, bw2);
return 0;
