using System.Globalization;

namespace SparseStorage.Bench;

/// <summary>Small numeric and formatting helpers shared by the benchmarks.</summary>
internal static class Stats
{
    public static double Median(IReadOnlyList<double> values)
    {
        var sorted = values.Order().ToArray();
        var middle = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
    }

    public static string Ms(double milliseconds) => F(milliseconds, milliseconds < 10 ? "0.000" : "0.0") + " ms";

    public static string Seconds(double milliseconds) => F(milliseconds / 1000, "0.00") + " s";

    /// <summary>Milliseconds below a second, seconds from there on.</summary>
    public static string Duration(double milliseconds) => milliseconds < 1000 ? Ms(milliseconds) : Seconds(milliseconds);

    public static string Us(double microseconds) => F(microseconds, "0.0") + " µs";

    public static string Ratio(double ratio) => F(ratio, ratio < 10 ? "0.00" : "0") + "×";

    public static string Bytes(double bytes) =>
        Math.Abs(bytes) < 1024 ? $"{F(bytes, "0")} B" : ByteSize.Format((long)Math.Round(bytes)) + $" ({F(bytes, "0")} B)";

    public static string F(double value, string format) => value.ToString(format, CultureInfo.InvariantCulture);

    /// <summary>"median X of N (min, max)", or "X (1 run)".</summary>
    public static string Spread(IReadOnlyList<double> times) => times.Count == 1
        ? $"{Duration(times[0])} (1 run)"
        : $"median {Duration(Median(times))} of {times.Count} (min {Duration(times.Min())}, max {Duration(times.Max())})";
}
