using System.IO.Compression;

namespace SparseStorage.Core.Tests.Fuzzing;

/// <summary>
/// One real image of the fuzz corpus (made by qemu-img, cryptsetup, mkfs or mkswap; see Fixtures/make-fixtures.sh),
/// with the regions its readers look at: where mutations go most of the time.
/// </summary>
public sealed class CorpusImage
{
    public CorpusImage(string name, byte[] bytes)
    {
        Name = name;
        Bytes = bytes;
        DataEnd = Array.FindLastIndex(bytes, b => b != 0) + 1;
        HotRegions = CorpusRegions.Of(bytes);
    }

    public string Name { get; }

    /// <summary>The whole file; beyond <see cref="DataEnd"/> only zeros.</summary>
    public byte[] Bytes { get; }

    public int DataEnd { get; }

    public IReadOnlyList<FieldRegion> HotRegions { get; }

    /// <summary>The corpus kept in the tests: every Fixtures/*.gz beside the test assembly (or under <paramref name="directory"/>).</summary>
    public static IReadOnlyList<CorpusImage> Load(string? directory = null)
    {
        directory ??= Path.Combine(AppContext.BaseDirectory, "Fixtures");
        return Directory.GetFiles(directory, "*.gz").Order(StringComparer.Ordinal).Select(LoadOne).ToList();
    }

    private static CorpusImage LoadOne(string path)
    {
        using var file = File.OpenRead(path);
        using var gzip = new GZipStream(file, CompressionMode.Decompress);
        using var bytes = new MemoryStream();
        gzip.CopyTo(bytes);
        return new CorpusImage(Path.GetFileNameWithoutExtension(path), bytes.ToArray());
    }

    public override string ToString() => Name;
}
