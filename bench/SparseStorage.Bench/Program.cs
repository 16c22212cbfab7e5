using System.Runtime.InteropServices;
using SparseStorage.Bench;

BenchOptions options;
try
{
    options = BenchOptions.Parse(args);
}
catch (ArgumentException e)
{
    Console.Error.WriteLine($"{e.Message}\n{BenchOptions.Usage}");
    return 2;
}

var report = new Report();
using (var environment = BenchEnvironment.Create(options))
{
    Console.WriteLine($"working directory {environment.Root} ({environment.FileSystemType})");
    if (options.Runs("listing"))
        new ListingBenchmark(environment, options, report).Run();
    if (options.Runs("create"))
        new CreateBenchmark(environment, options, report).Run();
    if (options.Runs("resize"))
        new ResizeBenchmark(environment, options, report).Run();
    if (options.Runs("copy"))
        new CopyBenchmark(environment, options, report).Run();
    if (options.Runs("backup"))
        new BackupBenchmark(environment, options, report).Run();
    if (options.Runs("encryption"))
        new EncryptionBenchmark(environment, options, report).Run();
    if (options.Runs("aoe"))
        new AoeBenchmark(environment, options, report).Run();
    if (options.Runs("module"))
        new ModuleBenchmark(environment, options, report).Run();
    if (options.Runs("cephbackup"))
        new CephBackupBenchmark(environment, options, report).Run();
    if (options.Runs("cephlist"))
        new CephListingBenchmark(environment, options, report).Run();
    if (options.Runs("cephmount"))
        new CephMountBenchmark(environment, options, report).Run();
    if (options.Runs("fuzz"))
        new FuzzBenchmark(environment, options, report).Run();
    report.PrintSummary();
    var written = report.Write(options.ResultsDirectory ?? Machine.DefaultResultsDirectory(), Machine.Describe(environment), options.ResultsSuffix);
    Console.WriteLine($"\nresults written to {written}");
}
return 0;

namespace SparseStorage.Bench
{
    /// <summary>What the results were measured on, and where they go.</summary>
    internal static class Machine
    {
        public static IEnumerable<string> Describe(BenchEnvironment environment) =>
        [
            $"host: {Environment.ProcessorCount} CPUs, {RuntimeInformation.OSDescription}, {RuntimeInformation.FrameworkDescription}",
            $"working directory: {environment.Root} on {environment.FileSystemType}",
            $"qemu-img: {Shell.Run("qemu-img", "--version").Split('\n')[0]}",
            $"command: bench/run.sh {string.Join(' ', Environment.GetCommandLineArgs().Skip(1))}",
        ];

        /// <summary>bench/results of the repository holding the current directory (run.sh runs from the repository root).</summary>
        public static string DefaultResultsDirectory()
        {
            for (var directory = new DirectoryInfo(Environment.CurrentDirectory); directory is not null; directory = directory.Parent)
                if (File.Exists(Path.Combine(directory.FullName, "SparseStorage.sln")))
                    return Path.Combine(directory.FullName, "bench", "results");
            return Path.Combine(Environment.CurrentDirectory, "results");
        }
    }
}
