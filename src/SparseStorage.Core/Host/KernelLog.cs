using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;
using SparseStorage.Core.Native;

namespace SparseStorage.Core.Host;

/// <summary>
/// The kernel's message buffer as /dev/kmsg gives it (Documentation/ABI/testing/dev-kmsg): one record per read,
/// "priority,sequence,microseconds,flags;text". Empty where the buffer cannot be read (not root, a restricted container).
/// </summary>
public static partial class KernelLog
{
    private const string Device = "/dev/kmsg";
    private const int O_NONBLOCK = 0x800;
    private const int EINTR = 4;
    private const int EPIPE = 32;
    private const int RecordBytes = 8192;

    /// <summary>The text of every record still in the buffer, oldest first.</summary>
    public static unsafe IReadOnlyList<string> Read()
    {
        var messages = new List<string>();
        SafeFileHandle kmsg;
        try
        {
            kmsg = Libc.Open(Device, Libc.O_RDONLY | Libc.O_CLOEXEC | O_NONBLOCK, 0);
        }
        catch (IOException)
        {
            return messages;
        }
        using (kmsg)
        {
            var buffer = new byte[RecordBytes];
            fixed (byte* start = buffer)
            {
                while (true)
                {
                    var read = ReadRecord(kmsg, start, buffer.Length);
                    if (read > 0)
                        messages.Add(TextOf(Encoding.UTF8.GetString(buffer, 0, (int)read)));
                    else if (read == 0 || Marshal.GetLastPInvokeError() is not (EPIPE or EINTR))
                        return messages; // EAGAIN: the end; EPIPE: a record was overwritten while reading, go on
                }
            }
        }
    }

    private static string TextOf(string record)
    {
        var text = record[(record.IndexOf(';') + 1)..];
        var end = text.IndexOf('\n');
        return end < 0 ? text : text[..end];
    }

    [LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
    private static unsafe partial nint ReadRecord(SafeFileHandle fd, byte* buffer, nint count);
}
