using Microsoft.Win32.SafeHandles;

namespace SparseStorage.Core.Tests.Fuzzing;

/// <summary>
/// A scratch copy of each corpus image on disk. A mutation is written over it in place and undone afterwards (only the
/// patched bytes and, after a cut, the data beyond the cut are rewritten), so a 4 MiB LUKS image costs a few small
/// writes per input, not a copy.
/// </summary>
public sealed class MutationFile(string directory) : IDisposable
{
    private readonly Dictionary<CorpusImage, (string Path, FileStream Stream)> files = [];

    /// <summary>Writes the mutated image and returns its path; <see cref="Undo"/> puts the original back.</summary>
    public string Apply(HeaderMutation mutation)
    {
        var (path, stream) = FileOf(mutation.Image);
        foreach (var patch in mutation.Patches)
            RandomAccess.Write(stream.SafeFileHandle, patch.Bytes, patch.Offset);
        if (mutation.Length is { } length)
            stream.SetLength(length);
        return path;
    }

    public void Undo(HeaderMutation mutation)
    {
        var image = mutation.Image;
        var (_, stream) = FileOf(image);
        if (mutation.Length is { } cut)
        {
            stream.SetLength(image.Bytes.Length);
            if (cut < image.DataEnd)
                Write(stream.SafeFileHandle, image, cut, image.DataEnd - cut);
        }
        foreach (var patch in mutation.Patches.Reverse())
            Write(stream.SafeFileHandle, image, patch.Offset, patch.Bytes.Length);
    }

    private static void Write(SafeFileHandle handle, CorpusImage image, long offset, long length) =>
        RandomAccess.Write(handle, image.Bytes.AsSpan((int)offset, (int)Math.Min(length, image.Bytes.Length - offset)), offset);

    private (string Path, FileStream Stream) FileOf(CorpusImage image)
    {
        if (files.TryGetValue(image, out var file))
            return file;
        var path = Path.Combine(directory, image.Name);
        var stream = new FileStream(path, FileMode.Create, FileAccess.ReadWrite, FileShare.ReadWrite);
        stream.SetLength(image.Bytes.Length);
        RandomAccess.Write(stream.SafeFileHandle, image.Bytes.AsSpan(0, image.DataEnd), 0);
        return files[image] = (path, stream);
    }

    public void Dispose()
    {
        foreach (var (_, stream) in files.Values)
            stream.Dispose();
    }
}
