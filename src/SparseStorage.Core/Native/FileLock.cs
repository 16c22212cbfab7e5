using System.Diagnostics;

namespace SparseStorage.Core.Native;

/// <summary>An exclusive flock(2) on a lock file, released on dispose or when the process dies.</summary>
public sealed class FileLock : IDisposable
{
    private readonly FileStream stream;

    private FileLock(FileStream stream) => this.stream = stream;

    /// <summary>Waits up to <paramref name="wait"/> for the lock; then fails with a <see cref="VolumeLockedException"/> naming the holder.</summary>
    public static FileLock Acquire(string lockPath, TimeSpan wait, string what, CancellationToken cancellationToken = default)
    {
        var stream = new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.ReadWrite);
        var clock = Stopwatch.StartNew();
        while (Libc.flock(stream.SafeFileHandle, Libc.LOCK_EX | Libc.LOCK_NB) != 0)
        {
            if (clock.Elapsed >= wait || cancellationToken.IsCancellationRequested)
            {
                var holder = ReadHolder(stream);
                stream.Dispose();
                cancellationToken.ThrowIfCancellationRequested();
                throw new VolumeLockedException(
                    $"Another operation holds the lock on {what}{holder}; waited {wait.TotalSeconds:0} s. Try again when it has finished.", what);
            }
            Thread.Sleep(50);
        }
        stream.SetLength(0);
        stream.Write(System.Text.Encoding.ASCII.GetBytes(Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        stream.Flush();
        return new FileLock(stream);
    }

    private static string ReadHolder(FileStream stream)
    {
        stream.Position = 0;
        var text = new StreamReader(stream, leaveOpen: true).ReadToEnd().Trim();
        return text.Length > 0 ? $" (process {text})" : "";
    }

    public void Dispose()
    {
        Libc.flock(stream.SafeFileHandle, Libc.LOCK_UN);
        stream.Dispose();
    }
}
