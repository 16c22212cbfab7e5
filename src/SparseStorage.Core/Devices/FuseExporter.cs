using System.Globalization;
using SparseStorage.Core.Host;
using SparseStorage.Core.Native;
using SparseStorage.Core.Processes;

namespace SparseStorage.Core.Devices;

/// <summary>
/// Exposes a qcow2 image, or the plaintext of a LUKS or qcow2+LUKS image, as a raw file through
/// qemu-storage-daemon's FUSE export, so the kernel's loop driver can attach it. The daemon outlives the PowerShell
/// session; a record in the runtime directory finds it again. A key reaches the daemon only as a secret file that
/// the caller deletes once the daemon has started. With <paramref name="references"/>, a qcow2 image's backing chain
/// and data file are named to qemu explicitly, checked to lie in the image's pool, so the daemon opens nothing a header
/// names on its own.
/// </summary>
public sealed class FuseExporter(IProcessRunner runner, RuntimePaths runtime, Volumes.ImageReferences? references = null)
{
    private const int SigTerm = 15;
    private const int SigKill = 9;

    public ToolCommand StartCommand(string volumePath, FuseExportOptions options)
    {
        var directory = runtime.FuseExports;
        var readOnly = options.ReadOnly;
        var readOnlyOption = readOnly ? ",read-only=on" : "";
        var discard = options.Discards ? ",discard=unmap" : ",discard=ignore";
        var secret = options.Secret is null ? [] : new[] { "--object", options.Secret.QemuObject("key0") };
        var keyOption = options.Secret is null ? "" : options.Layer == ExportLayer.Luks ? ",key-secret=key0" : ",encrypt.format=luks,encrypt.key-secret=key0";
        return new ToolCommand("qemu-storage-daemon", secret.Concat([
            "--blockdev", $"driver=file,node-name=file0,filename={Escape(volumePath)}{readOnlyOption}{discard}",
            "--blockdev", $"driver={(options.Layer == ExportLayer.Luks ? "luks" : "qcow2")},node-name=disk0,file=file0{readOnlyOption}{discard}{keyOption}{ReferenceOptions(volumePath, options.Layer)}",
            "--export", $"type=fuse,id=export0,node-name=disk0,mountpoint={Escape(FuseExportRecord.ExportPathFor(directory, volumePath))},writable={(readOnly ? "off" : "on")}",
            "--chardev", $"socket,id=qmp0,path={Escape(FuseExportRecord.MonitorPath(directory, volumePath))},server=on,wait=off",
            "--monitor", "chardev=qmp0",
            "--pidfile", FuseExportRecord.PidFilePath(directory, volumePath),
            "--daemonize"]));
    }

    private string ReferenceOptions(string volumePath, ExportLayer layer) =>
        layer == ExportLayer.Qcow2 && references is not null && File.Exists(volumePath) ? references.QemuOptions(volumePath) : "";

    public FuseExportRecord Start(string volumePath, FuseExportOptions options, CancellationToken cancellationToken)
    {
        // Readable by all (0755): the records name volumes and daemons, no secrets, and a non-root session must see them.
        var directory = runtime.Ensure(runtime.FuseExports, UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        var exportPath = FuseExportRecord.ExportPathFor(directory, volumePath);
        File.WriteAllBytes(exportPath, []); // qemu mounts the export over an existing regular file
        try
        {
            var result = runner.Run(StartCommand(volumePath, options), cancellationToken);
            if (result.ExitCode != 0 && options.Secret is not null && result.StandardError.Contains("Invalid password", StringComparison.Ordinal))
                throw new WrongKeyException($"The key does not open {volumePath}.", volumePath);
            result.EnsureSuccess();
            var pid = int.Parse(File.ReadAllText(FuseExportRecord.PidFilePath(directory, volumePath)).Trim(), CultureInfo.InvariantCulture);
            var record = new FuseExportRecord(volumePath, exportPath, pid, options.Secret is not null, options.LockWithDismount);
            record.Save(directory);
            return record;
        }
        catch
        {
            RemoveFiles(directory, volumePath, exportPath);
            throw;
        }
    }

    /// <summary>Stops the daemon (TERM, then KILL after 10 s), lifts a FUSE mount it left behind, and removes the record.</summary>
    public void Stop(FuseExportRecord record, CancellationToken cancellationToken)
    {
        if (record.IsDaemonAlive)
        {
            Libc.kill(record.ProcessId, SigTerm);
            if (!WaitForExit(record.ProcessId, TimeSpan.FromSeconds(10)))
            {
                Libc.kill(record.ProcessId, SigKill);
                WaitForExit(record.ProcessId, TimeSpan.FromSeconds(5));
            }
        }
        if (MountTable.Read().Any(m => m.MountPoint == record.ExportPath))
            runner.RunChecked(Mounter.UnmountCommand(record.ExportPath), cancellationToken);
        RemoveFiles(runtime.FuseExports, record.VolumePath, record.ExportPath);
    }

    /// <summary>Grows or shrinks the image under a running export (QMP block_resize); the FUSE file follows the new size.</summary>
    public void Resize(FuseExportRecord record, long newSize)
    {
        using var monitor = QmpClient.Connect(record.MonitorSocketPath, TimeSpan.FromSeconds(30));
        monitor.Execute("block_resize", new System.Text.Json.Nodes.JsonObject { ["node-name"] = "disk0", ["size"] = newSize });
        // The kernel caches the FUSE file's attributes for a while; a loop capacity refresh before it sees the new
        // length would keep the old size.
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (new FileInfo(record.ExportPath).Length != newSize)
        {
            if (DateTime.UtcNow > deadline)
                throw new StorageOperationException("ExportResizePending",
                    $"qemu-storage-daemon resized {record.VolumePath} to {newSize} bytes, but its FUSE export still shows {new FileInfo(record.ExportPath).Length}; dismount and mount the volume to see the new size.", record.VolumePath);
            Thread.Sleep(50);
        }
    }

    private static bool WaitForExit(int pid, TimeSpan wait)
    {
        var deadline = DateTime.UtcNow + wait;
        while (Directory.Exists($"/proc/{pid}") && !IsZombie(pid))
        {
            if (DateTime.UtcNow > deadline)
                return false;
            Thread.Sleep(20);
        }
        return true;
    }

    private static bool IsZombie(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..].StartsWith('Z');
        }
        catch (IOException)
        {
            return true;
        }
    }

    private static void RemoveFiles(string directory, string volumePath, string exportPath)
    {
        foreach (var file in new[] { exportPath, FuseExportRecord.PidFilePath(directory, volumePath), FuseExportRecord.RecordPath(directory, volumePath), FuseExportRecord.MonitorPath(directory, volumePath) })
            File.Delete(file);
    }

    /// <summary>qemu's option syntax doubles a comma inside a value.</summary>
    internal static string Escape(string value) => value.Replace(",", ",,", StringComparison.Ordinal);
}

/// <summary>The block driver between the image file and the export.</summary>
public enum ExportLayer
{
    Qcow2,
    Luks,
}

/// <summary>
/// How to export: <see cref="Secret"/> unlocks an encrypted image; <see cref="Discards"/> passes trims down to the
/// image (on for plain qcow2; off by default for encrypted volumes, since holes reveal which sectors are free).
/// </summary>
public sealed record FuseExportOptions(ExportLayer Layer, bool ReadOnly, bool Discards = true, Encryption.SecretFile? Secret = null, bool LockWithDismount = false)
{
    public static FuseExportOptions Qcow2(bool readOnly) => new(ExportLayer.Qcow2, readOnly);
}
