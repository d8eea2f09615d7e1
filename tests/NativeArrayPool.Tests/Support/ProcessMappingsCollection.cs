namespace NativeBuffers.Tests.Support;

/// <summary>
/// Tests that read /proc/self/maps to prove no address space leaked run alone: a pool of another test running
/// in parallel could map into a range this test's arena gave back, and look like a leak.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ProcessMappingsCollection
{
    public const string Name = "Process mappings";
}
