using System.Text;

namespace SparseStorage.Core.Tests.Support;

/// <summary>Sparse image files with data in scattered 1 MiB chunks, half random and half text, from a fixed seed.</summary>
public static class ScatteredImage
{
    public static void Write(string path, long size, int chunks, int seed = 7)
    {
        var random = new Random(seed);
        var text = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("The quick brown fox jumps over the lazy dog. ", 24000)))[..(1 << 20)];
        var noise = new byte[1 << 20];
        using var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write);
        file.SetLength(size);
        var slots = size >> 20;
        foreach (var (slot, index) in Enumerable.Range(0, chunks).Select(i => (random.NextInt64(slots), i)))
        {
            random.NextBytes(noise);
            file.Position = slot << 20;
            file.Write(index % 2 == 0 ? noise : text);
        }
    }

    /// <summary>Overwrites random 1 MiB chunks of an existing image with random bytes.</summary>
    public static void Scribble(string path, int chunks, int seed = 7)
    {
        var random = new Random(seed);
        using var file = new FileStream(path, FileMode.Open, FileAccess.Write);
        var chunk = new byte[1 << 20];
        for (var i = 0; i < chunks; i++)
        {
            random.NextBytes(chunk);
            file.Position = random.NextInt64(file.Length >> 20) << 20;
            file.Write(chunk);
        }
        file.Flush(flushToDisk: true);
    }

    /// <summary>Writes zeros over a range, so that it is allocated but holds nothing.</summary>
    public static void WriteZeros(string path, long offset, int length)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Write);
        file.Position = offset;
        file.Write(new byte[length]);
        file.Flush(flushToDisk: true);
    }
}
