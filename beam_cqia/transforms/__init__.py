"""The stage PTransforms. Each returns its main output; rejected and error records and counts are
kept in the pipeline's ledger (see ``_stage``) and written by ``WriteCqiaParquet``."""

from beam_cqia.transforms._stage import StageOutputs, ledger_stages, stage_outputs
from beam_cqia.transforms.decontam import Decontaminate, WriteDedupIndex
from beam_cqia.transforms.dedup import DedupExact
from beam_cqia.transforms.export import ExportChat, ExportCqiaJsonl, SampleSubsets
from beam_cqia.transforms.fetch import FetchUrls
from beam_cqia.transforms.ingest import NormalizeText, ReadCrawl
from beam_cqia.transforms.judge import JudgeWithLLM
from beam_cqia.transforms.kun import (
    BacktranslateInstructions,
    FilterContextDependent,
    FilterPolishedAnswers,
    PolishAnswers,
    ScoreInstructions,
)
from beam_cqia.transforms.neardup import DedupMinHash
from beam_cqia.transforms.quality import FilterByScore, ScoreQuality
from beam_cqia.transforms.readback import ReadCqiaParquet, ReadRejected
from beam_cqia.transforms.rebuild import RebuildFromTemplate
from beam_cqia.transforms.recommend import GroupRecommendations
from beam_cqia.transforms.sinks import WriteCqiaParquet
from beam_cqia.transforms.tagging import TagSchema

__all__ = [
    "BacktranslateInstructions",
    "Decontaminate",
    "DedupExact",
    "DedupMinHash",
    "ExportChat",
    "ExportCqiaJsonl",
    "FetchUrls",
    "FilterByScore",
    "FilterContextDependent",
    "FilterPolishedAnswers",
    "GroupRecommendations",
    "JudgeWithLLM",
    "NormalizeText",
    "PolishAnswers",
    "ReadCqiaParquet",
    "ReadCrawl",
    "ReadRejected",
    "RebuildFromTemplate",
    "SampleSubsets",
    "ScoreInstructions",
    "ScoreQuality",
    "StageOutputs",
    "TagSchema",
    "WriteCqiaParquet",
    "WriteDedupIndex",
    "ledger_stages",
    "stage_outputs",
]
