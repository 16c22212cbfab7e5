namespace SparseStorage.Bench;

/// <summary>Memory used while enumerating <see cref="Items"/> items without keeping them.</summary>
internal sealed record MemoryResult(int Items, int Samples, long PeakRetainedBytes, double AllocatedPerItem);

/// <summary>
/// Enumerates a sequence and discards each item, sampling the live managed heap (GC.GetTotalMemory(true), a full
/// collection) every <see cref="SampleEvery"/> items; reports the peak above the heap before enumeration began,
/// and the bytes allocated per item (GC.GetTotalAllocatedBytes).
/// </summary>
internal static class MemoryProbe
{
    public const int SampleEvery = 500;

    public static MemoryResult Measure<T>(Func<IEnumerable<T>> source)
    {
        var baseline = GC.GetTotalMemory(forceFullCollection: true);
        var allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
        long peak = baseline;
        int items = 0, samples = 0;
        foreach (var _ in source())
        {
            if (++items % SampleEvery != 0 && items != 1)
                continue;
            peak = Math.Max(peak, GC.GetTotalMemory(forceFullCollection: true));
            samples++;
        }
        var allocated = GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;
        return new MemoryResult(items, samples, peak - baseline, items == 0 ? 0 : (double)allocated / items);
    }
}
