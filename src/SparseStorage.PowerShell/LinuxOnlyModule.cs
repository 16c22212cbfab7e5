using System.Management.Automation;

namespace SparseStorage.PowerShell;

/// <summary>
/// Refuses the import anywhere but Linux, with a sentence instead of the first cmdlet's failure to find /sys or
/// /proc. PowerShell runs it when Import-Module loads the assembly, which is the module's root.
/// </summary>
public sealed class LinuxOnlyModule : IModuleAssemblyInitializer
{
    public void OnImport()
    {
        if (!OperatingSystem.IsLinux())
            throw new PlatformNotSupportedException(
                "SparseStorage manages Linux loop devices, mounts and filesystems; it runs only on Linux.");
    }
}
