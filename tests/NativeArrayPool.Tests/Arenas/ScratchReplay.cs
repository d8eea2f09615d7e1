using System.Text.RegularExpressions;
using NativeBuffers.Os;
using NativeBuffers.Tests.Support;
using Xunit.Abstractions;

namespace NativeBuffers.Tests.Arenas;

[Collection(ProcessMappingsCollection.Name)]
public class ScratchReplay(ITestOutputHelper output)
{
    [Fact]
    public void Replay()
    {
        string? text = Environment.GetEnvironmentVariable("REPLAY");
        if (text is null) return;
        var m = Regex.Match(text, @"seed (\d+), p ([\d.]+), paths ([^,]+(?:, [A-Z][a-zA-Z]+)*), budget (\d+), failed move unmaps destination (\w+): (.*)");
        int seed = int.Parse(m.Groups[1].Value); double p = double.Parse(m.Groups[2].Value);
        var paths = Enum.Parse<GrowthPaths>(m.Groups[3].Value); int budget = int.Parse(m.Groups[4].Value); bool unmap = bool.Parse(m.Groups[5].Value);
        var plan = new FaultPlan(seed) { MoveIntoFailureUnmapsDestination = unmap };
        foreach (Primitive primitive in Enum.GetValues<Primitive>()) plan.FailRandomly(primitive, p);
        var os = plan.Wrap(LinuxVirtualMemory.Instance);
        var steps = Regex.Matches(m.Groups[6].Value, @"(Rent|Resize|Return|Trim)(?:\((?:#(\d+))?(?:, )?(\d+)?\))?");
        GrowthFaultTests.RunToCleanEnd(GrowthFaultTests.Options(os, paths, budget), plan, d =>
        {
            foreach (Match s in steps)
            {
                string kind = s.Groups[1].Value;
                output.WriteLine($"{s.Value}  | faults so far: {string.Join(" ", plan.Log)} | ranges {string.Join(",", d.Arena.MappedRanges().Select(r => $"{r.Start:x}-{r.End:x}"))}");
                if (kind == "Rent") d.Rent(long.Parse(s.Groups[3].Value));
                else if (kind == "Resize") d.Resize(int.Parse(s.Groups[2].Value), long.Parse(s.Groups[3].Value));
                else if (kind == "Return") d.Return(int.Parse(s.Groups[2].Value));
                else d.Trim();
            }
        }, out _);
    }
}
