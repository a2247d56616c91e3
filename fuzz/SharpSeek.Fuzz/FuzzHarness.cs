namespace SharpSeek.Fuzz;

/// <summary>Runs a target on one input under the allocation bound; the replay tests and the afl loop both go through here.</summary>
public static class FuzzHarness
{
    /// <summary>Managed bytes one execution may allocate: a fixed allowance plus a multiple of the input's size.</summary>
    /// <remarks>
    /// The readers copy, decode and index their input (a JSON document, UTF-16 strings, dictionaries), so a small
    /// constant factor of the input is expected; an allocation driven by a count or length *inside* the input (a
    /// vocabulary id of 2 billion, an array count of 2^40) is what this bound is there to catch.
    /// </remarks>
    public static long AllocationBound(int inputLength) => FixedAllowance + PerInputByte * (long)inputLength;

    public const long FixedAllowance = 64L << 20;
    public const long PerInputByte = 64;

    public static void Execute(FuzzTarget target, byte[] input)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        target.Run(input);
        long used = GC.GetAllocatedBytesForCurrentThread() - before;
        long bound = AllocationBound(input.Length);
        if (used > bound)
            throw new AllocationBoundExceededException(
                $"{target.Name}: one {input.Length}-byte input allocated {used:N0} managed bytes, over the bound of {bound:N0}");
    }
}
