namespace SharpSeek.Fuzz;

/// <summary>
/// One fuzz target: <see cref="Run"/> feeds an input to a parser and returns normally when the parser accepts it or
/// rejects it with one of its documented errors. Anything that escapes is a finding (afl-fuzz records it as a crash).
/// </summary>
/// <param name="Name">The command-line name, also the folder under <c>fuzz/corpus/</c>.</param>
/// <param name="Run">The target body; documented rejections are caught inside it.</param>
public sealed record FuzzTarget(string Name, string Description, Action<byte[]> Run);

/// <summary>A target allocated more managed memory for one input than <see cref="FuzzHarness.AllocationBound"/> allows.</summary>
public sealed class AllocationBoundExceededException(string message) : Exception(message);

/// <summary>A target found its parser disagreeing with itself (e.g. the grammar accepted text that is not JSON).</summary>
public sealed class FuzzPropertyException(string message) : Exception(message);
