namespace SparseStorage.Core.Errors;

/// <summary>
/// What an IOException says happened, from its type and, on Linux, its errno (.NET's HResult for an I/O error is the
/// raw errno): the cmdlets choose an error category from it, and Core wraps reads it knows it made.
/// </summary>
public static class IoFailure
{
    private const int EBUSY = 16;
    private const int EEXIST = 17;
    private const int ETXTBSY = 26;
    private const int ENOSPC = 28;
    private const int EROFS = 30;
    private const int EDQUOT = 122;

    public static bool IsOutOfSpace(IOException exception) => exception.HResult is ENOSPC or EDQUOT;

    public static bool IsBusy(IOException exception) => exception.HResult is EBUSY or ETXTBSY;

    public static bool IsExisting(IOException exception) => exception.HResult == EEXIST;

    /// <summary>A write refused because the filesystem is mounted read-only.</summary>
    public static bool IsReadOnlyFileSystem(IOException exception) => exception.HResult == EROFS;

    /// <summary>
    /// Runs a read of <paramref name="path"/>; an IOException that says no more than "I/O failed" becomes a
    /// <see cref="StorageReadException"/>. A missing file or directory, a path too long, a full disk and the rest that
    /// say what happened by themselves pass unchanged.
    /// </summary>
    public static T Reading<T>(string path, Func<T> read)
    {
        try
        {
            return read();
        }
        catch (IOException e) when (SaysOnlyThatIoFailed(e))
        {
            throw new StorageReadException(path, e);
        }
    }

    private static bool SaysOnlyThatIoFailed(IOException exception) =>
        exception is not (FileNotFoundException or DirectoryNotFoundException or PathTooLongException or EndOfStreamException)
        && !IsOutOfSpace(exception) && !IsBusy(exception) && !IsExisting(exception) && !IsReadOnlyFileSystem(exception);
}
