namespace SparseStorage.Core.Backups;

/// <summary>
/// A manifest's numbers checked before a restore trusts them: a sane block size, every block inside the image and of
/// the length its place allows, in order, each once. A manifest is input like any other; these keep a crafted one
/// from writing outside the image's size or growing it without end.
/// </summary>
public static class BackupManifestBounds
{
    private const int SmallestBlock = 4 << 10;
    private const int LargestBlock = 64 << 20;

    public static void Require(BackupManifest manifest, string setDirectory)
    {
        if (manifest.BlockSize is < SmallestBlock or > LargestBlock || (manifest.BlockSize & (manifest.BlockSize - 1)) != 0)
            throw Damaged(setDirectory, $"its block size {manifest.BlockSize} is not a power of two from 4 KiB to 64 MiB");
        if (manifest.SizeBytes < 0 || !Enum.IsDefined(manifest.VolumeFormat))
            throw Damaged(setDirectory, $"it records a {manifest.VolumeFormat} image of {manifest.SizeBytes} bytes");
        var previous = -1L;
        foreach (var block in manifest.Blocks)
        {
            if (block.Index <= previous || block.Index > (manifest.SizeBytes - 1) / manifest.BlockSize)
                throw Damaged(setDirectory, $"block {block.Index} is out of order or beyond the image's {manifest.SizeBytes} bytes");
            if (block.Length != Math.Min(manifest.BlockSize, manifest.SizeBytes - block.Index * manifest.BlockSize) || block.Offset < 0 || block.Hash.Length != 64)
                throw Damaged(setDirectory, $"block {block.Index} has a length, offset or hash that does not fit its place");
            previous = block.Index;
        }
    }

    private static BackupDamagedException Damaged(string setDirectory, string what) =>
        new($"The manifest of backup set {setDirectory} cannot be right: {what}. Nothing was restored.", setDirectory);
}
