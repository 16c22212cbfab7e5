namespace SparseStorage.Bench;

/// <summary>
/// 1 GiB of data in 1024 chunks of 1 MiB, written at distinct 1 MiB-aligned offsets drawn from a fixed seed into
/// sparse raw images of any size. Even chunks are random bytes, odd chunks English-like text; chunk i holds the same
/// bytes in every image, so a 20 GiB and a 2 TiB image carry the same data, only placed differently.
/// </summary>
internal static class ScatteredData
{
    public const int ChunkCount = 1024;
    public const int ChunkSize = 1 << 20;
    public const long DataBytes = (long)ChunkCount * ChunkSize;
    private const int Seed = 20_480;

    /// <summary>Creates the images (which must not exist) with the same data in each, and fsyncs them.</summary>
    public static void Write(IReadOnlyList<(string Path, long Size)> images)
    {
        var handles = new List<Microsoft.Win32.SafeHandles.SafeFileHandle>();
        try
        {
            foreach (var (path, size) in images)
                handles.Add(Create(path, size));
            var offsets = images.Select((image, index) => Offsets(image.Size, index)).ToArray();
            var chunk = GC.AllocateUninitializedArray<byte>(ChunkSize);
            for (var i = 0; i < ChunkCount; i++)
            {
                Fill(i, chunk);
                for (var image = 0; image < handles.Count; image++)
                    RandomAccess.Write(handles[image], chunk, offsets[image][i]);
            }
            foreach (var handle in handles)
                RandomAccess.FlushToDisk(handle);
        }
        finally
        {
            foreach (var handle in handles)
                handle.Dispose();
        }
    }

    /// <summary>The chunks' offsets in an image of <paramref name="size"/> bytes, ascending; each image gets its own draw.</summary>
    public static long[] Offsets(long size, int image)
    {
        var slots = size / ChunkSize;
        if (slots < ChunkCount)
            throw new ArgumentOutOfRangeException(nameof(size), $"{size} bytes cannot hold {ChunkCount} chunks of {ChunkSize}");
        var random = new Random(Seed + image);
        var chosen = new HashSet<long>();
        while (chosen.Count < ChunkCount)
            chosen.Add(random.NextInt64(slots));
        return chosen.Order().Select(slot => slot * ChunkSize).ToArray();
    }

    private static void Fill(int index, Span<byte> chunk)
    {
        var random = new Random(Seed * 31 + index);
        if (index % 2 == 0)
            random.NextBytes(chunk);
        else
            EnglishText.Fill(chunk, random);
    }

    private static Microsoft.Win32.SafeHandles.SafeFileHandle Create(string path, long size)
    {
        var handle = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite);
        RandomAccess.SetLength(handle, size);
        return handle;
    }
}
