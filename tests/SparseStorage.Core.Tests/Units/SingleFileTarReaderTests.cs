using System.Formats.Tar;
using SparseStorage.Core.Backups;
using SparseStorage.Core.Native;
using SparseStorage.Core.Tests.Support;

namespace SparseStorage.Core.Tests.Units;

/// <summary>
/// The in-process tar reader of Expand-SparseVolume on streams made by .NET's own tar writer (every entry type, no
/// root needed) and on thousands of mutated headers: it extracts one regular file and refuses everything else with
/// UnsafeArchiveMember, and no input makes it throw anything else, hang, or write outside the file it was given.
/// </summary>
public sealed class SingleFileTarReaderTests : IDisposable
{
    private readonly TempDirectory directory = new("tar-reader");

    public static TheoryData<TarEntryType, string> Refused => new()
    {
        { TarEntryType.SymbolicLink, "victim.img" },
        { TarEntryType.HardLink, "victim.img" },
        { TarEntryType.CharacterDevice, "victim.img" },
        { TarEntryType.BlockDevice, "victim.img" },
        { TarEntryType.Fifo, "victim.img" },
        { TarEntryType.Directory, "victim.img" },
        { TarEntryType.RegularFile, "../victim.img" },
        { TarEntryType.RegularFile, "sub/victim.img" },
        { TarEntryType.RegularFile, ".." },
    };

    [Theory]
    [MemberData(nameof(Refused))]
    public void Anything_but_one_plain_named_regular_file_is_refused(TarEntryType type, string name)
    {
        var stream = Archive(TarEntryFormat.Gnu, (type, name, [1, 2, 3]));

        Read(stream).Should().BeOfType<UnsafeArchiveMemberException>().Which.ErrorId.Should().Be("UnsafeArchiveMember");
        new FileInfo(Output).Length.Should().Be(0, "nothing was written before the refusal");
    }

    [Theory]
    [InlineData(TarEntryFormat.Gnu)]
    [InlineData(TarEntryFormat.Pax)]
    [InlineData(TarEntryFormat.Ustar)]
    [InlineData(TarEntryFormat.V7)]
    public void One_regular_file_comes_out_byte_for_byte_with_its_zero_stretches_left_as_holes(TarEntryFormat format)
    {
        var data = new byte[(3 << 20) + 77];
        Random.Shared.NextBytes(data.AsSpan(0, 1 << 20));
        Random.Shared.NextBytes(data.AsSpan(2 << 20));

        Read(Archive(format, (format == TarEntryFormat.V7 ? TarEntryType.V7RegularFile : TarEntryType.RegularFile, "web01.img", data))).Should().BeNull();

        File.ReadAllBytes(Output).Should().Equal(data);
        Libc.Stat(Output).AllocatedBytes.Should().BeLessThan(data.Length - (512 << 10), "the zero MiB was not written");
    }

    [Fact]
    public void A_second_member_after_the_file_is_refused()
    {
        var stream = Archive(TarEntryFormat.Gnu, (TarEntryType.RegularFile, "a.img", [1]), (TarEntryType.RegularFile, "b.img", [2]));

        Read(stream).Should().BeOfType<UnsafeArchiveMemberException>().Which.Message.Should().Contain("more than one member");
    }

    [Fact]
    public void Mutated_headers_are_refused_or_read_and_never_throw_anything_else_or_hang()
    {
        var random = new Random(20261202);
        var original = Archive(TarEntryFormat.Gnu, (TarEntryType.RegularFile, "web01.img", new byte[3000])).ToArray();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        for (var iteration = 0; iteration < 3000; iteration++)
        {
            var mutated = (byte[])original.Clone();
            for (var flips = random.Next(1, 6); flips > 0; flips--)
                mutated[random.Next(512)] = (byte)random.Next(256);
            if (random.Next(4) == 0)
                mutated[156] = (byte)"0123456SLKxgV\0"[random.Next(14)];
            FixChecksum(mutated, keep: random.Next(8) != 0);

            var failure = Read(new MemoryStream(mutated));

            failure.Should().Match<Exception?>(e => e == null || e is UnsafeArchiveMemberException || e is IOException, $"iteration {iteration}: {failure}");
        }
        clock.Elapsed.Should().BeLessThan(TimeSpan.FromMinutes(2), "3000 small archives take well under a second each");
    }

    private string Output => directory.Combine("out.img");

    /// <summary>Reads the stream into a fresh output file; the failure, or null.</summary>
    private Exception? Read(Stream tar)
    {
        File.Delete(Output);
        using var output = Libc.Open(Output, Libc.O_RDWR | Libc.O_CREAT | Libc.O_EXCL | Libc.O_CLOEXEC, 0b110_000_000);
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            new SingleFileTarReader(output, "test.tar").Read(tar, bound.Token);
            return null;
        }
        catch (Exception e)
        {
            return e;
        }
    }

    private static MemoryStream Archive(TarEntryFormat format, params (TarEntryType Type, string Name, byte[] Data)[] entries)
    {
        var stream = new MemoryStream();
        using (var writer = new TarWriter(stream, format, leaveOpen: true))
            foreach (var (type, name, data) in entries)
                writer.WriteEntry(Entry(format, type, name, data));
        stream.Position = 0;
        return stream;
    }

    private static TarEntry Entry(TarEntryFormat format, TarEntryType type, string name, byte[] data)
    {
        TarEntry entry = format switch
        {
            TarEntryFormat.Gnu => new GnuTarEntry(type, name),
            TarEntryFormat.Pax => new PaxTarEntry(type, name),
            TarEntryFormat.Ustar => new UstarTarEntry(type, name),
            _ => new V7TarEntry(type, name),
        };
        if (type is TarEntryType.SymbolicLink or TarEntryType.HardLink)
            entry.LinkName = "/etc/shadow";
        if (type is TarEntryType.RegularFile or TarEntryType.V7RegularFile)
            entry.DataStream = new MemoryStream(data);
        return entry;
    }

    /// <summary>Writes a correct checksum into the header (most of the time), so that mutations reach the fields behind it.</summary>
    private static void FixChecksum(byte[] archive, bool keep)
    {
        if (!keep)
            return;
        archive.AsSpan(148, 8).Fill((byte)' ');
        var sum = archive.AsSpan(0, 512).ToArray().Sum(b => (long)b);
        System.Text.Encoding.ASCII.GetBytes(Convert.ToString(sum, 8).PadLeft(6, '0')).CopyTo(archive, 148);
        archive[154] = 0;
    }

    public void Dispose() => directory.Dispose();
}
