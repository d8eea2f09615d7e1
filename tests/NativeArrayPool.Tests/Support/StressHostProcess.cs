using System.Diagnostics;
using System.Reflection;

namespace NativeBuffers.Tests.Support;

/// <summary>Runs tests/NativeArrayPool.StressHost as a child process (`dotnet exec`) and collects what it said.</summary>
internal static class StressHostProcess
{
    public static string HostPath =>
        typeof(StressHostProcess).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "StressHostPath").Value!;

    /// <summary>The dotnet executable running this test host (the SDK sets DOTNET_HOST_PATH under dotnet test).</summary>
    private static string Dotnet =>
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host
        : Environment.ProcessPath is { } path && Path.GetFileNameWithoutExtension(path) == "dotnet" ? path
        : "dotnet";

    public static (int ExitCode, string Output) Run(string mode, IDictionary<string, string> environment, TimeSpan timeout)
    {
        Assert.True(File.Exists(HostPath), $"the stress host was not built at {HostPath}");
        var start = new ProcessStartInfo(Dotnet)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("exec");
        start.ArgumentList.Add(HostPath);
        start.ArgumentList.Add(mode);
        foreach ((string key, string value) in environment)
            start.Environment[key] = value;
        using Process child = Process.Start(start)!;
        Task<string> output = child.StandardOutput.ReadToEndAsync();
        Task<string> errors = child.StandardError.ReadToEndAsync();
        if (!child.WaitForExit(timeout))
        {
            child.Kill(entireProcessTree: true);
            Assert.Fail($"the stress host ({mode}) did not finish in {timeout}");
        }
        child.WaitForExit();
        return (child.ExitCode, output.Result + errors.Result);
    }
}
