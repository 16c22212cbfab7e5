using System.Runtime.Versioning;

// The module manages Linux loop devices, mounts and syscalls; it has no meaning elsewhere.
[assembly: SupportedOSPlatform("linux")]
