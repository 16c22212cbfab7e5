namespace SparseStorage.Bench;

/// <summary>
/// Fills a pool with volumes of 1 GiB virtual size, half raw and half qcow2. Each raw file is truncated to 1 GiB and
/// gets the first 68 KiB of a real ext4 image (so Core finds a superblock); each qcow2 file is a copy of one
/// `qemu-img create -f qcow2 … 1G` image.
/// </summary>
internal sealed class PoolFixture
{
    public const long VirtualSize = 1L << 30;
    private const int HeadLength = 68 * 1024;

    private readonly byte[] ext4Head;
    private readonly string qcow2Template;

    public PoolFixture(string scratch)
    {
        ext4Head = MakeExt4Head(scratch);
        qcow2Template = MakeQcow2(scratch);
    }

    public void Populate(string pool, int count)
    {
        for (var i = 0; i < count; i++)
        {
            var name = Path.Combine(pool, $"vol-{i:D6}");
            if (i % 2 == 0)
                WriteRaw(name + ".img");
            else
                File.Copy(qcow2Template, name + ".qcow2");
            if ((i + 1) % 2000 == 0)
                Console.Write($"\r  populated {i + 1}/{count} in {Path.GetFileName(pool)}");
        }
        Console.WriteLine($"\r  populated {count} volumes in {pool}");
    }

    private void WriteRaw(string path)
    {
        using var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1);
        file.SetLength(VirtualSize);
        file.Write(ext4Head);
    }

    /// <summary>The first 68 KiB of a fresh 16 MiB ext4 image: what the listing reads a superblock from.</summary>
    public static byte[] MakeExt4Head(string scratch)
    {
        var image = Path.Combine(scratch, "template-ext4.img");
        using (var file = File.Create(image))
            file.SetLength(16L << 20);
        Shell.Run("mkfs.ext4", "-q", "-F", image);
        using var stream = File.OpenRead(image);
        var head = new byte[HeadLength];
        stream.ReadExactly(head);
        return head;
    }

    private static string MakeQcow2(string scratch)
    {
        var image = Path.Combine(scratch, "template.qcow2");
        Shell.Run("qemu-img", "create", "-q", "-f", "qcow2", image, "1G");
        return image;
    }
}
