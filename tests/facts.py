"""The syllabus facts (../shared/syllabus.md) each chapter page must show, as printed."""
FACTS = {
    "01-gradient-descent": [
        "1847",                      # Cauchy
        "201", "(14, 24)", "(8.6, 7.6)",
        "params argument given to the optimizer should be an iterable of Tensors or dicts",
        "(3.0807, -1.8616)", "8.0401", "69681", "inf", "(3.0000, -2.0000)",
    ],
    "02-linear-regression": ["3.8463", "0.0875", "0.0833", "nn.Parameter"],
    "03-autograd": [
        "[[1.1667, 1.3333, 1.5000]", "[1.6667, 1.8333, 2.0000]]",
        "MulBackward0", "MeanBackward0", "AddBackward0", "0.2500", "0.5000", "Variable",
    ],
    "04-computational-graphs": ["49.0", "-14.0", "TanhBackward0"],
    "05-nn-module": ["1537", "0.888942301273346", "0.0673"],
    "06-optimizers-schedulers": [
        "[5.53, 4.6126", "L1Loss((1,1,1), (1,2,3)) = 1.0", "4.000000e-01", "3.200000e-01",
        "all 151 rates match 0.5 * 0.8**k: True", "LBFGS", "LambdaLR", "MultiStepLR", "StepLR",
    ],
    "07-minibatches": ["1,537", "0.8889", "[10, 10, 10, 2]", "layers.0.weight", "True"],
}
