using SharpFuzz;
using SharpSeek.Fuzz;

// SharpSeek.Fuzz <target>                 run under afl-fuzz (scripts/fuzz.sh): one process, inputs in a loop
// SharpSeek.Fuzz <target> <file|dir>...   replay inputs once each and report; exit 1 when one is a finding
// SharpSeek.Fuzz <target> --smoke N      N blind mutations of the corpus, in process (finds process-killing faults)
// SharpSeek.Fuzz seeds <corpus dir>       (re)write the generated seed inputs
// SharpSeek.Fuzz list                     the targets
if (args.Length == 0 || args[0] is "-h" or "--help")
{
    Console.Error.WriteLine("usage: SharpSeek.Fuzz <target> [input file or folder...] | seeds <corpus dir> | list");
    return 2;
}
if (args[0] == "list")
{
    foreach (var t in FuzzTargets.All) Console.WriteLine($"{t.Name,-18} {t.Description}");
    return 0;
}
if (args[0] == "seeds")
{
    Seeds.WriteAll(args.Length > 1 ? args[1] : Path.Combine("fuzz", "corpus"));
    return 0;
}
var target = FuzzTargets.Find(args[0]);
if (target is null)
{
    Console.Error.WriteLine($"unknown target '{args[0]}'; targets: {string.Join(", ", FuzzTargets.All.Select(t => t.Name))}");
    return 2;
}
if (args.Length > 2 && args[1] == "--smoke")
    return Smoke.Run(target, int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture), args.Length > 3 ? args[3] : Path.Combine("fuzz", "corpus", target.Name));
if (args.Length > 1) return Replay.Files(target, args.Skip(1));

Fuzzer.Run(stream =>
{
    using var copy = new MemoryStream();
    stream.CopyTo(copy);
    FuzzHarness.Execute(target, copy.ToArray());
});
return 0;
