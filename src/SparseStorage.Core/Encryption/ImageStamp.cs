using SparseStorage.Core.Native;

namespace SparseStorage.Core.Encryption;

/// <summary>
/// What a plan saw of an image file: which file it is (device and inode) and its state (length, inode change time).
/// Any write, key slot change or replacement moves it, so Apply can tell that the image is still the one planned.
/// </summary>
internal sealed record ImageStamp(long Device, long Inode, long Length, long ChangedNanoseconds)
{
    public static ImageStamp Of(string imagePath)
    {
        var status = Libc.Stat(imagePath);
        return new ImageStamp(status.Device, status.Inode, status.Size, status.ChangedNanoseconds);
    }
}
