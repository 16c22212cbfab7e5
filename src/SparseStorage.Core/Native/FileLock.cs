using System.Diagnostics;
using System.Globalization;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace SparseStorage.Core.Native;

/// <summary>An exclusive flock(2) on a lock file, released on dispose or when the process dies.</summary>
public sealed class FileLock : IDisposable
{
    private readonly SafeFileHandle handle;

    private FileLock(SafeFileHandle handle) => this.handle = handle;

    /// <summary>Waits up to <paramref name="wait"/> for the lock; then fails with a <see cref="VolumeLockedException"/> naming the holder.</summary>
    public static FileLock Acquire(string lockPath, TimeSpan wait, string what, CancellationToken cancellationToken = default)
    {
        var handle = Libc.Open(lockPath, Libc.O_RDWR | Libc.O_CREAT | Libc.O_CLOEXEC, 0b110_000_000);
        var clock = Stopwatch.StartNew();
        while (Libc.flock(handle, Libc.LOCK_EX | Libc.LOCK_NB) != 0)
        {
            if (clock.Elapsed >= wait || cancellationToken.IsCancellationRequested)
            {
                var holder = ReadHolder(handle);
                handle.Dispose();
                cancellationToken.ThrowIfCancellationRequested();
                throw new VolumeLockedException(
                    $"Another operation holds the lock on {what}{holder}; waited {wait.TotalSeconds:0} s. Try again when it has finished.", what);
            }
            Thread.Sleep(50);
        }
        RandomAccess.SetLength(handle, 0);
        RandomAccess.Write(handle, Encoding.ASCII.GetBytes(Environment.ProcessId.ToString(CultureInfo.InvariantCulture)), 0);
        return new FileLock(handle);
    }

    private static string ReadHolder(SafeFileHandle handle)
    {
        var buffer = new byte[32];
        var text = Encoding.ASCII.GetString(buffer, 0, RandomAccess.Read(handle, buffer, 0)).Trim();
        return text.Length > 0 ? $" (process {text})" : "";
    }

    public void Dispose()
    {
        Libc.flock(handle, Libc.LOCK_UN);
        handle.Dispose();
    }
}
