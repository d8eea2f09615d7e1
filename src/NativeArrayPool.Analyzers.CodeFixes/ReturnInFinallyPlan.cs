using System.Collections.Generic;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Operations;
using static Microsoft.CodeAnalysis.CSharp.SyntaxFactory;

namespace NativeBuffers.Analyzers.CodeFixes;

/// <summary>
/// What wrapping a leaked lease in try/finally would change, worked out only when the result is plainly right:
/// <list type="bullet">
/// <item><c>var b = pool.Rent(n);</c> declares one local, without <c>using</c>, directly in a block, and at least one
/// statement follows it there;</item>
/// <item>the pool is a local, a by-value parameter, a readonly field, or a static property without a setter, and nothing that
/// follows assigns it, so <c>pool.Return(b)</c> in the finally block names the pool the lease came from;</item>
/// <item>what follows only reads the lease (<c>AsSpan</c>, <c>AsMemory</c>, <c>Pointer</c>, the indexer, <c>Length</c>,
/// <c>IsEmpty</c>, <c>IsValid</c>, <c>ToString</c>), resizes it through the same pool, or returns it once by a
/// statement of the block itself (that statement moves into the finally block); it never hands the lease off,
/// assigns it, disposes it, captures it in a lambda or local function, nor lets a span, memory or pointer out of the
/// method or into a field, where it would outlive the lease the finally block now returns; a Memory&lt;T&gt; of it goes
/// only to a local of the try block or to a Memory&lt;T&gt; parameter of a call done with it once it returns (or once
/// its task is awaited);</item>
/// <item>local functions left after the try block read none of its locals, and the block's own Return, which moves
/// into the finally block, passes nothing but the lease, constants and by-value parameters nothing assigns.</item>
/// </list>
/// Anything else gets no fix: a wrong one would trade a leak for a use after return or a double return.
/// </summary>
internal sealed class ReturnInFinallyPlan
{
    private static readonly HashSet<string> ReadingMembers =
        new() { "AsSpan", "AsMemory", "Pointer", "Length", "IsEmpty", "IsValid", "ToString" };

    private ReturnInFinallyPlan(
        BlockSyntax block, int declarationIndex, string leaseName,
        IEnumerable<StatementSyntax> guarded, IEnumerable<StatementSyntax> keptAfter, ExpressionSyntax returnCall)
    {
        Block = block;
        DeclarationIndex = declarationIndex;
        LeaseName = leaseName;
        Guarded = guarded.ToList();
        KeptAfter = keptAfter.ToList();
        ReturnCall = returnCall;
    }

    /// <summary>The block that declares the lease.</summary>
    public BlockSyntax Block { get; }

    /// <summary>The index of the declaration among the block's statements.</summary>
    public int DeclarationIndex { get; }

    /// <summary>The lease variable's name, for the fix's title.</summary>
    public string LeaseName { get; }

    /// <summary>The statements after the declaration that go into the try block.</summary>
    public IReadOnlyList<StatementSyntax> Guarded { get; }

    /// <summary>Local functions declared after the lease: they stay in the block, where the code before can call them.</summary>
    public IReadOnlyList<StatementSyntax> KeptAfter { get; }

    /// <summary>The <c>pool.Return(b)</c> call of the finally block (the block's own, when it had one).</summary>
    public ExpressionSyntax ReturnCall { get; }

    public static ReturnInFinallyPlan? TryCreate(InvocationExpressionSyntax rent, SemanticModel model, CancellationToken cancellationToken)
    {
        if (rent.Parent is not EqualsValueClauseSyntax { Parent: VariableDeclaratorSyntax declarator } ||
            declarator.Parent is not VariableDeclarationSyntax { Variables.Count: 1 } ||
            declarator.Parent.Parent is not LocalDeclarationStatementSyntax declaration ||
            !declaration.UsingKeyword.IsKind(SyntaxKind.None) || declaration.IsConst ||
            declaration.Parent is not BlockSyntax block ||
            rent.Expression is not MemberAccessExpressionSyntax { Expression: ExpressionSyntax poolSyntax })
            return null;

        LeaseSymbols? symbols = LeaseSymbols.TryCreate(model.Compilation);
        if (symbols is null ||
            model.GetOperation(rent, cancellationToken) is not IInvocationOperation rentCall ||
            !symbols.IsPoolMethod(rentCall.TargetMethod, "Rent") ||
            model.GetDeclaredSymbol(declarator, cancellationToken) is not ILocalSymbol lease ||
            PoolSymbol(rentCall.Instance) is not ISymbol pool)
            return null;

        // A ref-returning method could hand out a reference into the lease the finally block now returns.
        if (model.GetEnclosingSymbol(declaration.SpanStart, cancellationToken) is IMethodSymbol { ReturnsByRef: true } or IMethodSymbol { ReturnsByRefReadonly: true })
            return null;

        int index = block.Statements.IndexOf(declaration);
        var following = block.Statements.Skip(index + 1).ToList();
        // A label would move out of reach of a goto before the declaration.
        if (following.Any(s => s is LabeledStatementSyntax))
            return null;
        var guarded = following.Where(s => s is not LocalFunctionStatementSyntax).ToList();
        var keptAfter = following.Where(s => s is LocalFunctionStatementSyntax).ToList();
        if (guarded.Count == 0)
            return null;

        ExpressionStatementSyntax? ownReturn = null;
        foreach (StatementSyntax statement in following)
        {
            foreach (IdentifierNameSyntax name in statement.DescendantNodesAndSelf().OfType<IdentifierNameSyntax>())
            {
                if (name.Identifier.ValueText != lease.Name ||
                    !SymbolEqualityComparer.Default.Equals(model.GetSymbolInfo(name, cancellationToken).Symbol, lease))
                    continue;
                if (IsInNestedFunction(name, block))
                    return null;
                switch (Classify(name, model, symbols, pool, block, cancellationToken))
                {
                    case Use.Reads:
                    case Use.ResizedThroughSamePool:
                        break;
                    case Use.ReturnedByOwnStatement when ownReturn is null:
                        ownReturn = (ExpressionStatementSyntax)name.Parent!.Parent!.Parent!.Parent!;
                        break;
                    default:
                        return null;
                }
            }
        }

        // A local function left outside the try block cannot see the locals the try block now declares.
        if (keptAfter.Any(function => ReadsLocalDeclaredIn(function, guarded, model, cancellationToken)))
            return null;

        var guardedOperations = new List<IOperation>();
        foreach (StatementSyntax statement in guarded)
        {
            if (model.GetOperation(statement, cancellationToken) is not IOperation operation)
                return null;
            guardedOperations.AddRange(operation.DescendantsAndSelf());
        }
        if (guardedOperations.Any(o => LetsAViewOut(o, symbols) || AssignsPool(o, pool) || LetsMemoryOut(o, symbols, guarded)))
            return null;

        // The block's own Return moves into the finally block, where its other arguments are evaluated later and out
        // of the scope of the try block's locals: only constants and by-value parameters nothing assigns keep their
        // meaning there.
        if (ownReturn is not null &&
            (model.GetOperation(ownReturn.Expression, cancellationToken) is not IInvocationOperation ownReturnCall ||
             ownReturnCall.Arguments.Where(argument => argument.Parameter?.Ordinal != 0).Any(argument => !KeepsItsValue(argument.Value, guardedOperations))))
            return null;

        ExpressionSyntax returnCall = ownReturn?.Expression.WithoutTrivia() ??
            InvocationExpression(
                MemberAccessExpression(SyntaxKind.SimpleMemberAccessExpression, poolSyntax.WithoutTrivia(), IdentifierName("Return")),
                ArgumentList(SingletonSeparatedList(Argument(IdentifierName(declarator.Identifier.WithoutTrivia())))));
        return new ReturnInFinallyPlan(
            block, index, lease.Name, guarded.Where(s => s != ownReturn), keptAfter, returnCall);
    }

    private enum Use { Other, Reads, ResizedThroughSamePool, ReturnedByOwnStatement }

    private static Use Classify(IdentifierNameSyntax name, SemanticModel model, LeaseSymbols symbols, ISymbol pool, BlockSyntax block, CancellationToken cancellationToken)
    {
        switch (name.Parent)
        {
            case MemberAccessExpressionSyntax access when access.Expression == name && ReadingMembers.Contains(access.Name.Identifier.ValueText):
                return Use.Reads;
            case ElementAccessExpressionSyntax element when element.Expression == name:
                return Use.Reads;
            case ArgumentSyntax { Parent: ArgumentListSyntax { Parent: InvocationExpressionSyntax invocation } } argument:
                if (model.GetOperation(invocation, cancellationToken) is not IInvocationOperation call ||
                    !SymbolEqualityComparer.Default.Equals(PoolSymbol(call.Instance), pool))
                    return Use.Other;
                if (symbols.IsPoolMethod(call.TargetMethod, "Resize") && argument.RefKindKeyword.IsKind(SyntaxKind.RefKeyword))
                    return Use.ResizedThroughSamePool;
                if (symbols.IsPoolMethod(call.TargetMethod, "Return") && argument.RefKindKeyword.IsKind(SyntaxKind.None) &&
                    invocation.Parent is ExpressionStatementSyntax statement && statement.Parent == block)
                    return Use.ReturnedByOwnStatement;
                return Use.Other;
            default:
                return Use.Other;
        }
    }

    /// <summary>
    /// The pool a Rent, Return or Resize is called on, when naming it again later names the same pool: a local, a
    /// by-value parameter, a readonly field of this object or a static one, or a static property without a setter (such as
    /// <c>NativeArrayPool&lt;T&gt;.Shared</c>). Null for anything else (a call, an indexer, another object's field).
    /// </summary>
    private static ISymbol? PoolSymbol(IOperation? instance) => instance switch
    {
        ILocalReferenceOperation { Local.RefKind: RefKind.None } local => local.Local,
        IParameterReferenceOperation { Parameter.RefKind: RefKind.None or RefKind.In } parameter => parameter.Parameter,
        // Only a readonly field: any call in between could assign another, and nothing here would see it.
        IFieldReferenceOperation { Field.IsReadOnly: true, Instance: null or IInstanceReferenceOperation { ReferenceKind: InstanceReferenceKind.ContainingTypeInstance } } field => field.Field,
        IPropertyReferenceOperation { Property: { IsStatic: true, SetMethod: null, Parameters.Length: 0 } } property => property.Property,
        _ => null,
    };

    /// <summary>A write to the pool variable: the finally block would return the lease to another pool.</summary>
    private static bool AssignsPool(IOperation operation, ISymbol pool)
    {
        IOperation? target = operation switch
        {
            IAssignmentOperation assignment => assignment.Target,
            IIncrementOrDecrementOperation step => step.Target,
            IArgumentOperation { Parameter.RefKind: RefKind.Ref or RefKind.Out } argument => argument.Value,
            _ => null,
        };
        ISymbol? written = target switch
        {
            ILocalReferenceOperation local => local.Local,
            IParameterReferenceOperation parameter => parameter.Parameter,
            IFieldReferenceOperation field => field.Field,
            _ => null,
        };
        return SymbolEqualityComparer.Default.Equals(written, pool);
    }

    /// <summary>
    /// A span, memory or pointer leaving the method (returned, yielded) or stored anywhere but a local: it would
    /// outlive the lease the finally block returns.
    /// </summary>
    private static bool LetsAViewOut(IOperation operation, LeaseSymbols symbols) => operation switch
    {
        IReturnOperation { ReturnedValue: IOperation value } => symbols.IsView(value.Type),
        IAssignmentOperation assignment => symbols.IsView(assignment.Value.Type) && assignment.Target is not ILocalReferenceOperation,
        _ => false,
    };

    private static bool KeepsItsValue(IOperation value, List<IOperation> guarded) =>
        value.ConstantValue.HasValue ||
        value is IParameterReferenceOperation { Parameter.RefKind: RefKind.None } parameter && !guarded.Any(o => AssignsPool(o, parameter.Parameter));

    private static bool ReadsLocalDeclaredIn(StatementSyntax function, List<StatementSyntax> guarded, SemanticModel model, CancellationToken cancellationToken) =>
        function.DescendantNodes().OfType<IdentifierNameSyntax>().Any(name =>
            model.GetSymbolInfo(name, cancellationToken).Symbol is ILocalSymbol local && IsDeclaredIn(local, guarded));

    /// <summary>
    /// A Memory&lt;T&gt; (the one view the heap can keep) going anywhere but: a local the try block declares, the
    /// receiver of one of its members, or an argument of a parameter declared as Memory&lt;T&gt; of a call that is
    /// done with it when it returns (.NET's rule for such parameters) or when the task it returns is awaited. A
    /// constructor, a collection (a parameter of generic or object type), an unawaited task or a lambda may keep it
    /// past the finally block that now returns the lease.
    /// </summary>
    private static bool LetsMemoryOut(IOperation operation, LeaseSymbols symbols, List<StatementSyntax> guarded)
    {
        if (operation is IAnonymousFunctionOperation or ILocalFunctionOperation)
            return operation.Descendants().Any(o => o is ILocalReferenceOperation or IParameterReferenceOperation && symbols.IsMemory(o.Type));
        if (!symbols.IsMemory(operation.Type))
            return false;
        IOperation? consumer = operation.Parent;
        if (consumer is IConversionOperation conversion && symbols.IsMemory(conversion.Type))
            return false; // the conversion is checked in its turn
        switch (consumer)
        {
            case IVariableInitializerOperation { Parent: IVariableDeclaratorOperation declarator }:
                return !IsDeclaredIn(declarator.Symbol, guarded);
            case ISimpleAssignmentOperation assignment when assignment.Target == operation:
                return false;
            case ISimpleAssignmentOperation { Target: ILocalReferenceOperation local }:
                return !IsDeclaredIn(local.Local, guarded);
            case IInvocationOperation invocation when invocation.Instance == operation:
            case IPropertyReferenceOperation property when property.Instance == operation:
                return false;
            case IArgumentOperation { Parameter: IParameterSymbol parameter, Parent: IInvocationOperation call }:
                return !symbols.IsMemory(parameter.OriginalDefinition.Type) || (IsAwaitable(call.Type) && !IsAwaited(call));
            default:
                return true;
        }
    }

    private static bool IsDeclaredIn(ILocalSymbol local, List<StatementSyntax> guarded) =>
        local.DeclaringSyntaxReferences.Any(declaration => guarded.Any(statement => statement.Span.Contains(declaration.Span)));

    private static bool IsAwaitable(ITypeSymbol? type) =>
        type is not null && type.GetMembers("GetAwaiter").OfType<IMethodSymbol>().Any(m => !m.IsStatic && m.Parameters.Length == 0);

    private static bool IsAwaited(IOperation call)
    {
        IOperation current = call;
        while (current.Parent is IConversionOperation or IInvocationOperation { TargetMethod.Name: "ConfigureAwait" })
            current = current.Parent;
        return current.Parent is IAwaitOperation;
    }

    private static bool IsInNestedFunction(SyntaxNode node, BlockSyntax block)
    {
        for (SyntaxNode? current = node.Parent; current is not null && current != block; current = current.Parent)
        {
            if (current is AnonymousFunctionExpressionSyntax or LocalFunctionStatementSyntax)
                return true;
        }
        return false;
    }
}
