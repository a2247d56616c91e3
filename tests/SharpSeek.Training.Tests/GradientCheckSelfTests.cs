using SharpSeek.Training.Autodiff;

namespace SharpSeek.Training.Tests;

/// <summary>The checker must reject a wrong gradient, or the op checks would prove nothing.</summary>
public unsafe class GradientCheckSelfTests
{
    /// <summary>y = x², with a backward pass that is off by the given factor.</summary>
    private sealed class Square(Node<double> x, Node<double> y, double factor) : TapeStep
    {
        public static Node<double> Of(Tape<double> tape, Node<double> x, double factor)
        {
            var y = tape.NewNode(x.Rows, x.Cols, x.RequiresGrad);
            for (int i = 0; i < x.Length; i++) y.Value[i] = x.Value[i] * x.Value[i];
            if (y.RequiresGrad) tape.Record(new Square(x, y, factor), y);
            return y;
        }

        public override void Backward()
        {
            for (int i = 0; i < x.Length; i++) x.Grad[i] += factor * 2 * x.Value[i] * y.Grad[i];
        }
    }

    [Fact]
    public void ACorrectGradientPasses()
    {
        using var x = GradientCheck.Random("x", [3, 4], 1);
        GradientCheck.Check(t => ProjectionLoss.Of(t, Square.Of(t, t.Leaf(x), 1.0), 2), [x]);
    }

    [Fact]
    public void AGradientOffByOnePercentFails()
    {
        using var x = GradientCheck.Random("x", [3, 4], 1);
        Assert.ThrowsAny<Xunit.Sdk.XunitException>(() => GradientCheck.Check(t => ProjectionLoss.Of(t, Square.Of(t, t.Leaf(x), 1.01), 2), [x]));
    }
}
